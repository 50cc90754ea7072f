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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(argv.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: action.workingDirectory)
        process.environment = action.environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            // Checked above, so rare (a file changed in between, a format the system cannot run): the system's
            // reason when Foundation kept it, never Foundation's own sentence.
            return .failedToStart(
                FoundationErrorReason.systemReason(of: error) ?? "the program could not be started")
        }
        let pid = process.processIdentifier
        let state = ExecState()
        let (seconds, attoseconds) = action.timeout.components
        let deadline =
            DispatchTime.now() + .nanoseconds(Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000))
        DispatchQueue.global().asyncAfter(deadline: deadline) {
            // isRunning turns false when Foundation reaps the child, so a recycled PID is never signalled.
            if state.markTimedOut(), process.isRunning { kill(pid, SIGKILL) }
        }
        // Read stdout up to the cap (+1 byte to detect overflow); stderr is read on another thread so that a
        // chatty program cannot block on a full pipe.
        let errorText = ErrorCollector()
        let errorDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            errorText.data = stderr.fileHandleForReading.readDataToEndOfFile()
            errorDone.signal()
        }
        var output: [UInt8] = []
        var tooLarge = false
        let handle = stdout.fileHandleForReading
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            output.append(contentsOf: chunk)
            if output.count > action.maxOutputBytes {
                tooLarge = true
                kill(pid, SIGKILL)
                break
            }
        }
        process.waitUntilExit()
        errorDone.wait()
        let timedOut = !state.markFinished()
        if timedOut { return .timedOut }
        if tooLarge { return .outputTooLarge }
        if process.terminationReason == .uncaughtSignal || process.terminationStatus != 0 {
            let firstLine =
                String(decoding: errorText.data.prefix(200), as: UTF8.self).split(separator: "\n").first.map(
                    String.init) ?? ""
            return .exitStatus(process.terminationStatus, stderr: firstLine)
        }
        return .output(output)
    }
}

/// Stderr collected by the reader thread; read only after that thread signalled it is done.
private final class ErrorCollector: @unchecked Sendable {
    // Written by one thread before a semaphore signal, read by another after the wait.
    var data = Data()
}

/// Decides, once, whether a process finished or was timed out.
private final class ExecState: @unchecked Sendable {
    // Guarded by `lock`; shared between the waiting thread and the timeout callback.
    private let lock = NSLock()
    private var decided = false
    private var timedOut = false

    /// Returns `true` if the timeout won (so the caller must kill the process).
    func markTimedOut() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !decided else { return false }
        decided = true
        timedOut = true
        return true
    }

    /// Returns `true` if the process finished before the timeout.
    func markFinished() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if decided { return !timedOut }
        decided = true
        return true
    }
}
