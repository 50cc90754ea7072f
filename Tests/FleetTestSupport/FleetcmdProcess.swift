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
    public static func run(_ arguments: [String], stdin: Data? = nil, timeout: TimeInterval = 60) async throws -> Result
    {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let outPipe = Pipe()
        let errPipe = Pipe()
        let inPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = inPipe
        try process.run()
        if let stdin { inPipe.fileHandleForWriting.write(stdin) }
        try inPipe.fileHandleForWriting.close()
        // A hang fails the test quickly instead of stalling the suite.
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { if process.isRunning { process.terminate() } }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                let group = DispatchGroup()
                nonisolated(unsafe) var out = Data()
                nonisolated(unsafe) var err = Data()
                DispatchQueue.global().async(group: group) { out = outPipe.fileHandleForReading.readDataToEndOfFile() }
                DispatchQueue.global().async(group: group) { err = errPipe.fileHandleForReading.readDataToEndOfFile() }
                group.wait()
                process.waitUntilExit()
                continuation.resume(
                    returning: Result(
                        status: process.terminationStatus,
                        stdout: String(decoding: out, as: UTF8.self),
                        stderr: String(decoding: err, as: UTF8.self)
                    ))
            }
        }
    }
}
