import CFleetSpawn
import FleetFraming
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A program fleetcmd starts (an `exec` route, an inventory script, a simulator worker), through posix_spawn
/// (``cfleet_spawn``): every descriptor but 0, 1 and 2 closed in the child, signals at their defaults, a process
/// group of its own. Not Foundation's `Process`, whose `run()` crashes the calling process now and then
/// (swift-corelibs-foundation #5472): an agent serving `exec` routes must not.
public struct ChildProcess: Sendable {
    public let pid: Int32

    /// Why a program could not be started: the system's error code.
    public struct StartError: Error, Sendable, Equatable {
        public let code: Int32
        /// In the system's words, lower case (`no such file or directory`, `exec format error`).
        public var reason: String { UserFacingText.systemReason(code) }
    }

    /// How the program ended.
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)

        /// The exit status, or the signal's number (as a shell's `$?` less 128).
        public var status: Int32 {
            switch self {
            case .exited(let status), .signalled(let status): status
            }
        }
    }

    /// Starts `path` with `arguments`; `environment` `nil` passes this process's on. The descriptors given become
    /// the child's 0, 1 and 2 (-1: /dev/null); the caller closes its copies.
    public static func start(
        _ path: String, arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: Int32 = -1, output: Int32 = -1, error: Int32 = -1
    ) throws(StartError) -> ChildProcess {
        let argv = [path] + arguments
        let envp = environment.map { $0.map { "\($0.key)=\($0.value)" } }
        var pid: pid_t = 0
        let code = withCStrings(argv) { argv in
            withOptionalCStrings(envp) { envp in
                cfleet_spawn(path, argv, envp, directory, input, output, error, &pid)
            }
        }
        guard code == 0 else { throw StartError(code: code) }
        return ChildProcess(pid: pid)
    }

    /// Waits until the program has ended, without reaping it (its pid is not handed out again meanwhile, so it
    /// can still be signalled safely); ``reap()`` then collects how it ended.
    public func waitUntilEnded() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
    }

    /// Waits for the program to end and collects how it did.
    public func reap() -> Termination {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        if status & 0x7F == 0 { return .exited((status >> 8) & 0xFF) }
        return .signalled(status & 0x7F)
    }

    /// Sends `signal` (the program must not have been reaped yet).
    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Sends `signal` to the program and to what it started (its process group, which it leads; it must not have
    /// been reaped yet): a shell's children would otherwise keep its output open, and the caller waiting, after
    /// the shell was killed.
    public func signalGroup(_ signal: Int32) { kill(-pid, signal) }

    /// Reads `descriptor` (a child's output) chunk by chunk as it comes, until the end of input or until `body`
    /// returns `false`.
    public static func read(_ descriptor: Int32, _ body: (ArraySlice<UInt8>) -> Bool) {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0, body(chunk[..<count]) else { return }
        }
    }

    /// A pipe for a child's descriptor: the read and write ends, close-on-exec.
    public static func makePipe() throws(StartError) -> (read: Int32, write: Int32) { try Pipe.make() }

    /// What ``run(_:arguments:environment:directory:input:maxOutputBytes:timeout:)`` found.
    public struct Result: Sendable {
        public var termination: Termination
        public var output: [UInt8]
        public var errorOutput: [UInt8]
        /// Killed at the timeout.
        public var timedOut: Bool
        /// Killed once its output passed the limit (``output`` holds what was read).
        public var outputTooLarge: Bool
    }

    /// Runs `path` to its end, blocking the calling thread: `input` (if any) is its stdin (else /dev/null), and its
    /// stdout and stderr are read in full, each on a thread of its own so that neither pipe can fill and block it.
    /// It is killed (SIGKILL), with what it started, when its stdout passes `maxOutputBytes` or when `timeout` has
    /// passed.
    public static func run(
        _ path: String, arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: [UInt8]? = nil, maxOutputBytes: Int = .max, timeout: Duration? = nil
    ) throws(StartError) -> Result {
        let stdout = try Pipe.make()
        let stderr: (read: Int32, write: Int32)
        do { stderr = try Pipe.make() } catch {
            Pipe.close(stdout)
            throw error
        }
        var stdin: (read: Int32, write: Int32)? = nil
        if input != nil {
            do { stdin = try Pipe.make() } catch {
                Pipe.close(stdout)
                Pipe.close(stderr)
                throw error
            }
        }
        let child: ChildProcess
        do {
            child = try start(
                path, arguments: arguments, environment: environment, directory: directory,
                input: stdin?.read ?? -1, output: stdout.write, error: stderr.write)
        } catch {
            Pipe.close(stdout)
            Pipe.close(stderr)
            if let stdin { Pipe.close(stdin) }
            throw error
        }
        Glibc.close(stdout.write)
        Glibc.close(stderr.write)
        let ending = Ending()
        let readers = DispatchGroup()
        if let stdin, let input {
            Glibc.close(stdin.read)
            Thread.detachNewThread {
                // A program that exits without reading its input: EPIPE for this thread, not SIGPIPE for the process.
                var pipeSignal = sigset_t()
                sigemptyset(&pipeSignal)
                sigaddset(&pipeSignal, SIGPIPE)
                pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
                input.withUnsafeBytes { _ = Pipe.writeAll($0, to: stdin.write) }
                Glibc.close(stdin.write)
            }
        }
        let errorOutput = Collected()
        readers.enter()
        Thread.detachNewThread {
            errorOutput.bytes = Pipe.readAll(stderr.read, keeping: 64 << 10)
            Glibc.close(stderr.read)
            readers.leave()
        }
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) {
                // Not yet reaped (``Ending`` decides once): the pid is still this child's.
                if ending.timeOut() { child.signalGroup(SIGKILL) }
            }
        }
        var output = Pipe.readAll(stdout.read, limit: maxOutputBytes == .max ? .max : maxOutputBytes + 1)
        let tooLarge = output.count > maxOutputBytes
        if tooLarge {
            output.removeLast(output.count - maxOutputBytes)
            child.signalGroup(SIGKILL)
        }
        Glibc.close(stdout.read)
        child.waitUntilEnded()
        let timedOut = !ending.finish()
        let termination = child.reap()
        readers.wait()
        return Result(
            termination: termination, output: output, errorOutput: errorOutput.bytes, timedOut: timedOut,
            outputTooLarge: tooLarge)
    }

    /// The standard error read on another thread: written before `leave()`, read after `wait()`.
    private final class Collected: @unchecked Sendable {
        var bytes: [UInt8] = []
    }

    /// Decides once whether the program ended or was timed out first.
    private final class Ending: @unchecked Sendable {
        private let lock = NSLock()
        private var decided = false
        private var timedOut = false

        /// `true` when the timeout came first (the caller kills the program).
        func timeOut() -> Bool {
            lock.withLock {
                guard !decided else { return false }
                decided = true
                timedOut = true
                return true
            }
        }

        /// `true` when the program ended before the timeout.
        func finish() -> Bool {
            lock.withLock {
                if decided { return !timedOut }
                decided = true
                return true
            }
        }
    }
}

/// Pipes as plain descriptors, close-on-exec (a child gets only the ends it is given, as 0, 1 or 2).
private enum Pipe {
    static func make() throws(ChildProcess.StartError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw ChildProcess.StartError(code: errno) }
        // Only for other programs started meanwhile: cfleet_spawn closes every descriptor above 2 in its children.
        _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
        return (ends[0], ends[1])
    }

    static func close(_ pipe: (read: Int32, write: Int32)) {
        Glibc.close(pipe.read)
        Glibc.close(pipe.write)
    }

    /// Reads to the end of input, or until more than `limit` bytes were read.
    static func readAll(_ descriptor: Int32, limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        ChildProcess.read(descriptor) { chunk in
            bytes += chunk
            return bytes.count < limit
        }
        return bytes
    }

    /// Reads to the end of input, keeping the first `keeping` bytes (the rest is read and dropped, so that the
    /// writer never blocks on a full pipe).
    static func readAll(_ descriptor: Int32, keeping: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        ChildProcess.read(descriptor) { chunk in
            if bytes.count < keeping { bytes += chunk.prefix(keeping - bytes.count) }
            return true
        }
        return bytes
    }

    /// `false` when the reader went away (EPIPE) or another error stopped the write.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += written
        }
        return true
    }
}

/// `strings` as a NULL-terminated array of C strings for the duration of `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) } + [nil]
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }  // never empty: it ends with nil
}

private func withOptionalCStrings<R>(
    _ strings: [String]?, _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R
) -> R {
    guard let strings else { return body(nil) }
    return withCStrings(strings) { body($0) }
}
