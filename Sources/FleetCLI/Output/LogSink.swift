import Foundation
import Metrics

#if canImport(Glibc)
    import Glibc
#endif

/// Where log lines go: a bounded buffer that a writer thread of its own empties into a file descriptor, so that a
/// log line never costs the thread that logs it a system call, and a slow or blocked stderr (a full pipe, a stopped
/// pager, a slow disk) never stalls an event loop.
///
/// - Lines are appended whole under a lock held for a copy; the writer swaps the buffer out and writes everything
///   that gathered meanwhile in one `write`. After a quiet spell it waits 5 ms before writing, so a line reaches
///   the descriptor at most a few milliseconds late and a steady trickle costs one wake-up per batch, not per line.
/// - At most `limit` bytes wait. A line that would not fit is dropped and counted; once the writer catches up it
///   writes one line saying how many were dropped (and `fleet_log_lines_dropped_total` counts them), so nothing is
///   lost silently.
/// - Everything appended is written before the process exits (an `atexit` handler waits for the writer), so the
///   last lines of an agent that stops, or of one that exits with an error, are never lost.
final class LogSink: @unchecked Sendable {
    /// The process's standard error (log lines: dropped and counted when it cannot keep up).
    static let standardError = LogSink(descriptor: 2)
    /// The process's standard output (results: never dropped; a writer that gets ahead waits for it).
    static let standardOutput = LogSink(descriptor: 1, whenFull: .wait)

    /// What a full buffer does to the next line.
    enum Overflow {
        /// Drop it and count it (log lines: the agent must not stall on its log).
        case drop
        /// Wait for room (results: nothing may be lost).
        case wait
    }

    /// How a dropped-lines notice is written, in the format of the other lines; set with the log handler.
    var droppedNotice: @Sendable (Int) -> [UInt8] {
        get { condition.withLock { _droppedNotice } }
        set { condition.withLock { _droppedNotice = newValue } }
    }

    private let descriptor: Int32
    private let limit: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [UInt8] = []
    private var dropped = 0
    private var writing = false
    private var started = false
    private var _droppedNotice: @Sendable (Int) -> [UInt8] = { count in
        Array("log lines dropped because the log output could not keep up count=\(count)\n".utf8)
    }

    private let overflow: Overflow

    init(descriptor: Int32, limit: Int = 8 << 20, whenFull overflow: Overflow = .drop) {
        self.descriptor = descriptor
        self.limit = limit
        self.overflow = overflow
    }

    /// Queues `line` (with its newline). Never blocks on the descriptor, except that a `.wait` sink whose buffer is
    /// full waits for room.
    func append(_ line: [UInt8]) { append(line, lines: 1) }

    /// Queues several whole lines at once; if they do not fit, all `lines` count as dropped.
    func append(_ line: [UInt8], lines: Int) {
        line.withUnsafeBytes { append($0, lines: lines) }
    }

    /// Queues several whole lines at once, copied from memory the caller keeps (``AuditBatcher``'s batches); if
    /// they do not fit, all `lines` count as dropped.
    func append(_ line: UnsafeRawBufferPointer, lines: Int) { append(line, lines: lines, newline: false) }

    /// Queues `text` and a newline as one line, copied from the string's own bytes (no array made per line).
    func appendLine(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0), lines: 1, newline: true) }
    }

    private func append(_ line: UnsafeRawBufferPointer, lines: Int, newline: Bool) {
        let count = line.count + (newline ? 1 : 0)
        condition.lock()
        if !started { start() }
        defer { condition.unlock() }
        switch overflow {
        case .wait:  // a line larger than the limit goes alone
            while !pending.isEmpty && pending.count + count > limit { condition.wait() }
        case .drop:
            if pending.count + count > limit {
                dropped += lines
                return
            }
        }
        let wake = pending.isEmpty
        line.withMemoryRebound(to: UInt8.self) { pending.append(contentsOf: $0) }
        if newline { pending.append(0x0A) }
        if wake { condition.broadcast() }  // the writer, never a flush() waiter alone
    }

    /// Waits until everything appended so far has been written, or `timeout` has passed (a descriptor that nobody
    /// reads must not keep the process from exiting).
    func flush(timeout: TimeInterval? = nil) {
        let timeout = timeout ?? (overflow == .wait ? .infinity : 5)
        condition.lock()
        guard !pending.isEmpty || dropped > 0 || writing else { return condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout.isInfinite ? 0 : timeout)
        while !pending.isEmpty || dropped > 0 || writing {
            if timeout.isInfinite {
                condition.wait()
            } else if !condition.wait(until: deadline) {
                break
            }
        }
        condition.unlock()
    }

    // Called with the lock held.
    private func start() {
        started = true
        if self === LogSink.standardError { atexit { LogSink.standardError.flush() } }
        if self === LogSink.standardOutput { atexit { LogSink.standardOutput.flush() } }
        let thread = Thread { [self] in run() }
        thread.name = "fleetcmd-log"
        thread.start()
    }

    private func run() {
        var batch: [UInt8] = []
        while true {
            condition.lock()
            while pending.isEmpty && dropped == 0 { condition.wait() }
            if pending.count < 64 << 10 {
                // Woken by the first line after a quiet spell: gather what follows for a moment, so that a steady
                // trickle of lines costs one wake-up and one write per few milliseconds, not one per line.
                condition.unlock()
                usleep(5_000)
                condition.lock()
            }
            swap(&batch, &pending)
            let lost = dropped
            dropped = 0
            let notice = _droppedNotice
            writing = true
            condition.unlock()

            if lost > 0 {
                batch.append(contentsOf: notice(lost))
                Counter(label: "fleet_log_lines_dropped_total").increment(by: lost)
            }
            writeAll(batch)
            batch.removeAll(keepingCapacity: batch.capacity <= 1 << 20)

            condition.lock()
            writing = false
            condition.broadcast()
            condition.unlock()
        }
    }

    private func writeAll(_ bytes: [UInt8]) {
        let failed = bytes.withUnsafeBytes { OutputFailure.writeAll($0, to: descriptor) }
        // Results that did not reach stdout are reported at exit; a failed stderr has nowhere left to say it.
        if let failed, descriptor == STDOUT_FILENO { OutputFailure.record(errno: failed) }
    }
}
