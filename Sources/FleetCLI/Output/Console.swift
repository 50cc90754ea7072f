import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Line-oriented, thread-safe writes to stdout and stderr, flushed per line so that pipes and tests see each
/// line as it happens.
enum Console {
    private static let lock = NIOLock()

    /// Results queued before it (``buffered(_:)``) are written first.
    static func out(_ line: String) {
        LogSink.standardOutput.flush()
        write(line + "\n", to: STDOUT_FILENO)
    }

    /// Many lines on stdout in few writes (64 KiB at a time): a listing of a million hosts.
    static func out<Lines: Sequence<String>>(lines: Lines) {
        LogSink.standardOutput.flush()
        var chunk = ""
        chunk.reserveCapacity(1 << 16)
        for line in lines {
            chunk += line
            chunk += "\n"
            if chunk.utf8.count >= 1 << 16 {
                write(chunk, to: STDOUT_FILENO)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty { write(chunk, to: STDOUT_FILENO) }
    }

    /// Bytes on stdout exactly as given: no newline added, nothing escaped (`send --raw-reply` to a pipe or file).
    static func outBytes(_ bytes: [UInt8]) {
        LogSink.standardOutput.flush()
        write(bytes, to: STDOUT_FILENO)
    }

    /// A line on stdout through a writer thread that writes many lines at once (a run's results: thousands a
    /// second). Lines keep their order, also with ``out(_:)``; nothing is dropped.
    static func buffered(_ line: String) {
        LogSink.standardOutput.appendLine(line)
    }

    /// Log lines queued before it are written first (``LogSink``), so stderr keeps the order things happened in.
    static func err(_ line: String) {
        LogSink.standardError.flush()
        write(line + "\n", to: STDERR_FILENO)
    }

    /// Text on stderr with no newline (a progress line redrawn in place).
    static func errRaw(_ text: String) {
        LogSink.standardError.flush()
        write(text, to: STDERR_FILENO)
    }

    /// Unbuffered: each line is one or more `write(2)` calls under the lock, so lines never interleave and
    /// nothing is lost if the process exits right after.
    private static func write(_ text: String, to descriptor: Int32) { write(Array(text.utf8), to: descriptor) }

    private static func write(_ bytes: [UInt8], to descriptor: Int32) {
        lock.withLock {
            let failed = bytes.withUnsafeBytes { OutputFailure.writeAll($0, to: descriptor) }
            // A failed stdout is reported at exit (a full disk must not look like success); stderr has nowhere left
            // to say anything.
            if let failed, descriptor == STDOUT_FILENO { OutputFailure.record(errno: failed) }
        }
    }

    /// `fleetcmd: <message>` on stderr: the form every error line takes.
    static func error(_ message: String) { err("fleetcmd: " + message) }

    static var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }
    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    /// Whether the terminal takes escape sequences: `TERM` is set and is not `dumb` (Emacs shells, some CI
    /// consoles). Nothing fleetcmd writes to a pipe, a file or a dumb terminal carries one.
    static var termTakesEscapes: Bool {
        guard let value = getenv("TERM") else { return false }
        let term = String(cString: value)
        return !term.isEmpty && term != "dumb"
    }

    /// A live progress line on stderr: a terminal that takes escape sequences.
    static var stderrTakesEscapes: Bool { stderrIsTerminal && termTakesEscapes }
}
