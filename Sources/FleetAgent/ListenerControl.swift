import NIOConcurrencyHelpers
import NIOCore

/// Opens and closes an agent's listeners while it runs: a closed listener is a closed port (connections are
/// refused), as a device that is switched off or flapping.
public final class ListenerControl: Sendable {
    struct State {
        var channels: [Int: any Channel] = [:]
        var closed: Set<Int>
        var open: (@Sendable (Int) async throws -> any Channel)?
        var stopped = false
    }

    let state: NIOLockedValueBox<State>

    /// - Parameter closedAtStart: listeners (indexes into the configuration's `listen`) not to open at start.
    public init(closedAtStart: Set<Int> = []) {
        state = NIOLockedValueBox(State(closed: closedAtStart))
    }

    /// Whether listener `index` is open.
    public func isOpen(_ index: Int) -> Bool { state.withLockedValue { $0.channels[index] != nil } }

    /// Closes listener `index`; established connections stay.
    public func close(_ index: Int) async {
        let channel = state.withLockedValue { state -> (any Channel)? in
            state.closed.insert(index)
            return state.channels.removeValue(forKey: index)
        }
        try? await channel?.close()
    }

    /// Opens listener `index` again (no-op when it is open or the agent is not running).
    public func open(_ index: Int) async throws {
        let opener = state.withLockedValue { state -> (@Sendable (Int) async throws -> any Channel)? in
            guard state.channels[index] == nil, !state.stopped, let open = state.open else { return nil }
            state.closed.remove(index)
            return open
        }
        guard let opener else { return }
        let channel = try await opener(index)
        let keep = state.withLockedValue { state -> Bool in
            guard !state.stopped, state.channels[index] == nil else { return false }
            state.channels[index] = channel
            return true
        }
        if !keep { try? await channel.close() }
    }

    func started(_ channels: [Int: any Channel], open: @escaping @Sendable (Int) async throws -> any Channel) {
        state.withLockedValue { state in
            state.channels = channels
            state.open = open
            state.stopped = false
        }
    }

    /// Marks the agent stopped and returns every open listener, to close.
    func stop() -> [any Channel] {
        state.withLockedValue { state in
            state.stopped = true
            state.open = nil
            defer { state.channels = [:] }
            return Array(state.channels.values)
        }
    }

    var closedAtStart: Set<Int> { state.withLockedValue { $0.closed } }
}
