import ServiceLifecycle

/// Returns after `duration` (or at shutdown), to stop a bounded run.
struct StopAfter: Service {
    let duration: Duration

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }
}
