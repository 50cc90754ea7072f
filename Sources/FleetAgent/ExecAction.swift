import FleetFraming
import FleetSystemText
import Foundation

/// A program the agent runs for a command: never through a shell, with captures substituted as whole
/// arguments, a timeout, an output cap, a working directory and an explicit environment.
public struct ExecAction: Sendable, Hashable {
    /// The program (an absolute path) and its arguments. `{1}`, `{2}`… in an argument are replaced by the
    /// route's captures; a capture never splits into several arguments and no shell ever sees it.
    public var argv: [String]
    /// The program is killed (SIGKILL) after this long and the reply is `ERR timed out after …`. Default: 5 s.
    public var timeout: Duration
    /// Stdout beyond this many bytes kills the program; the reply is `ERR output exceeds …`. Default: 4 KiB.
    public var maxOutputBytes: Int
    /// The working directory. Default: `/`.
    public var workingDirectory: String
    /// The program's whole environment: nothing is inherited. Default: empty.
    public var environment: [String: String]

    public init(
        argv: [String], timeout: Duration = .seconds(5), maxOutputBytes: Int = 4096, workingDirectory: String = "/",
        environment: [String: String] = [:]
    ) {
        self.argv = argv
        self.timeout = timeout
        self.maxOutputBytes = maxOutputBytes
        self.workingDirectory = workingDirectory
        self.environment = environment
    }

    /// The argv with `{N}` replaced by `arguments[N-1]` (and `{0}` by the whole command).
    public func resolvedArguments(command: String, arguments: [String]) -> [String] {
        var values = ["0": command]
        for (index, argument) in arguments.enumerated() { values[String(index + 1)] = argument }
        return argv.map { $0.substituting(values) }
    }
}

/// Runs ``ExecAction``s. Blocking process I/O happens on its own thread, never on an event loop.
enum ExecRunner {
    enum Outcome: Sendable, Equatable {
        case output([UInt8])
        case exitStatus(Int32, stderr: String)
        case timedOut
        case outputTooLarge
        case failedToStart(String)
    }

    /// Why `program` cannot run in `directory`, in the system's words, or `nil` when it looks runnable. Checked
    /// before Foundation's `Process`, whose errors name no cause a reader can act on ("The file doesn’t exist.":
    /// the program or the directory?).
    static func reasonItCannotStart(_ program: String, in directory: String) -> String? {
        var info = stat()
        if stat(program, &info) != 0 { return UserFacingText.systemReason(errno) }
        if info.st_mode & S_IFMT == S_IFDIR { return UserFacingText.systemReason(EISDIR) }
        if access(program, X_OK) != 0 { return UserFacingText.systemReason(errno) }
        if stat(directory, &info) != 0 { return "working directory: " + UserFacingText.systemReason(errno) }
        if info.st_mode & S_IFMT != S_IFDIR { return "working directory: " + UserFacingText.systemReason(ENOTDIR) }
        if access(directory, X_OK) != 0 { return "working directory: " + UserFacingText.systemReason(errno) }
        return nil
    }

    static func run(_ argv: [String], action: ExecAction) async -> Outcome {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: runBlocking(argv, action: action))
            }
        }
    }

    private static func runBlocking(_ argv: [String], action: ExecAction) -> Outcome {
        guard let program = argv.first, program.hasPrefix("/") else {
            return .failedToStart("argv[0] must be an absolute path")
        }
        if let reason = reasonItCannotStart(program, in: action.workingDirectory) { return .failedToStart(reason) }
        let result: ChildProcess.Result
        do {
            result = try ChildProcess.run(
                program, arguments: Array(argv.dropFirst()), environment: action.environment,
                directory: action.workingDirectory, maxOutputBytes: action.maxOutputBytes, timeout: action.timeout)
        } catch {
            // Checked above, so rare (a file changed in between, a format the system cannot run).
            return .failedToStart(error.reason)
        }
        if result.timedOut { return .timedOut }
        if result.outputTooLarge { return .outputTooLarge }
        if result.termination != .exited(0) {
            let firstLine =
                String(decoding: result.errorOutput.prefix(200), as: UTF8.self).split(separator: "\n").first.map(
                    String.init) ?? ""
            return .exitStatus(result.termination.status, stderr: firstLine)
        }
        return .output(result.output)
    }
}
