import CFleetProcess
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A write to standard output that failed (a full disk, a closed descriptor, a pipe whose reader left while
/// `SIGPIPE` is ignored): results the user expects in a file or a pipe did not all get there. As `cat` and `grep`
/// do on a write error, the process does not claim success: at exit it says so once on stderr and exits 74
/// (``ExitStatus/outputFailed``), whatever the command's own status was. Devices' outcomes are in the run's
/// journal either way.
enum OutputFailure {
    private static let firstError = NIOLockedValueBox<Int32?>(nil)

    /// Records a failed write to standard output (`errno`); the first one is reported. A pipe whose reader left
    /// (`fleetcmd … | head -1`) ends the process as SIGPIPE does any program's, quietly, unless SIGPIPE was
    /// ignored when fleetcmd started: NIO ignores it for the whole process once it opens a socket, which must not
    /// turn every early-closing pipeline into an error message.
    static func record(errno code: Int32) {
        if code == EPIPE, cfleet_sigpipe_was_ignored() == 0 { cfleet_die_of_sigpipe() }
        firstError.withLockedValue { first in
            if first == nil { first = code }
        }
    }

    /// Registers the check that runs at exit. Call it first thing: exit handlers run in reverse order, so the check
    /// runs after the handler that writes the last buffered results (``LogSink``), and sees their failure too.
    static func installExitCheck() {
        atexit { OutputFailure.reportAtExit() }
    }

    private static func reportAtExit() {
        // What went through the C library's buffer (`print`: ArgumentParser's help) is written after the exit
        // handlers; write it now, to see whether it fails.
        let flushed = cfleet_flush_stdout()
        if flushed != 0 { record(errno: flushed) }
        guard let code = firstError.withLockedValue({ $0 }) else { return }
        let line = Array("fleetcmd: cannot write to standard output: \(String(cString: strerror(code)))\n".utf8)
        line.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress!, $0.count) }
        _exit(ExitStatus.outputFailed)
    }

    /// Writes all of `bytes` to `descriptor`, waiting for room when it is non-blocking (an inherited `O_NONBLOCK`
    /// would otherwise drop output); returns `errno` of a failure, `nil` once everything is written.
    static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written > 0 {
                offset += written
                continue
            }
            let code = written < 0 ? errno : EIO
            if code == EINTR { continue }
            if code == EAGAIN || code == EWOULDBLOCK {
                var wanted = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                if poll(&wanted, 1, -1) >= 0 || errno == EINTR { continue }
                return errno
            }
            return code
        }
        return nil
    }
}
