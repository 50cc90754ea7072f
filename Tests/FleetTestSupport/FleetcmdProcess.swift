import FleetSystemText
public import Foundation

/// Runs the built `fleetcmd` binary, as users and scripts do, and captures what it printed and its exit code.
public enum FleetcmdProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The binary under test: `$FLEETCMD_BIN`, else `fleetcmd` beside the test bundle, else `.build/debug/fleetcmd`.
    public static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["FLEETCMD_BIN"] { return URL(fileURLWithPath: path) }
        var directory = Bundle.main.bundleURL
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("fleetcmd")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/fleetcmd")
    }

    /// Runs `fleetcmd arguments…` to completion, killing it after `timeout` seconds so a hang fails fast.
    /// posix_spawn (``ChildProcess``), not Foundation's `Process`, whose `run()` now and then crashes the test
    /// process (swift-corelibs-foundation #5472).
    public static func run(_ arguments: [String], stdin: Data? = nil, timeout: TimeInterval = 60) async throws -> Result
    {
        let path = binary.path
        let input = stdin.map { [UInt8]($0) }
        let result = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Swift.Result {
                        try ChildProcess.run(
                            path, arguments: arguments, input: input, timeout: .milliseconds(Int(timeout * 1000)))
                    })
            }
        }
        return Result(
            status: result.termination.status,
            stdout: String(decoding: result.output, as: UTF8.self),
            stderr: String(decoding: result.errorOutput, as: UTF8.self))
    }
}
