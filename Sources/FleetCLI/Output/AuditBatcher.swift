import FleetAgent
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif  // getenv

/// The agent's audit lines (one per command), gathered per event-loop thread and handed to the log sink once per
/// batch of replies (a read's worth of commands) and at the latest once per loop tick, so that a command pays for
/// rendering its line and little else: no allocation per line, one lock shared with the other loops per batch, and
/// the clock read once per batch and its time stamp formatted once per millisecond, not once per line.
///
/// - Before a batch's replies are written the agent calls ``handOverCurrent()`` (``AgentConnectionHooks/auditWillReply``):
///   the lines are queued before the client can see the replies, so a client that waits for each reply finds the
///   lines in its order, whichever loop served each command.
/// - The lines of one batch share one reading of the clock: commands that were read together and answered at once
///   (a batch is handed over before its replies are written, and at the latest when the loop's tick ends).
/// - A line is rendered into its thread's batch; the first line of a tick schedules the batch's hand-over on the
///   thread's event loop (it runs once the loop has handled the reads that made the lines). A batch that reaches
///   64 KiB is handed over at once. Lines keep their order per connection (a connection stays on one loop).
/// - Records from threads that are not event loops (an `exec` route's job) go to the sink line by line.
/// - ``flush()`` hands over every batch now: the agent calls it when it stops, since the loops' pending tasks need
///   not run before the process exits.
/// - The sink is bounded and counts what it drops (``LogSink``): a batch is one append, dropped whole and counted
///   line by line if the sink is full.
final class AuditBatcher: Sendable {
    /// One thread's lines. Touched by its own thread, and by ``flush()`` from any thread: under its lock.
    private final class Batch: @unchecked Sendable {
        /// The event loop of the thread the batch belongs to.
        let loop: any EventLoop
        let lock = NIOLock()
        /// The lines, in memory of the batch's own: a line is written in place (``AuditLineWriter``), with one
        /// bound check, rather than appended to an array piece by piece.
        let storage: UnsafeMutableRawBufferPointer
        var count = 0
        var lines = 0
        var scheduled = false
        var stampMillisecond: Int64 = .min
        var stamp: [UInt8] = []
        /// The clock was read for the lines since the last hand-over: they share its millisecond.
        var stampIsCurrent = false
        var known = AuditLineWriter.KnownBare()

        init(loop: any EventLoop, capacity: Int) {
            self.loop = loop
            storage = .allocate(byteCount: capacity, alignment: 1)
        }

        deinit { storage.deallocate() }

        var free: Int { storage.count - count }
        var end: UnsafeMutableRawPointer { storage.baseAddress! + count }  // allocated: it has an address

        /// Copies `line` in; `false` when it does not fit.
        func append(_ line: [UInt8]) -> Bool {
            guard line.count <= free else { return false }
            line.withUnsafeBytes { end.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            count += line.count
            return true
        }
    }

    private let sink: LogSink
    private let format: FleetLogHandler.Format
    private let stamped: Bool
    private let journald: Bool
    private let limit: Int
    private let batches = ThreadSpecificVariable<Batch>()
    private let all = NIOLockedValueBox<[Batch]>([])

    /// `journald`: as the log handler decides it, from `$JOURNAL_STREAM` unless given.
    init(
        format: FleetLogHandler.Format, journald: Bool = JournalStream.isStandardError(),
        sink: LogSink = .standardError, limit: Int = 64 << 10
    ) {
        self.sink = sink
        self.format = format
        self.journald = journald
        self.stamped = !(journald && format == .text)
        self.limit = limit
    }

    /// Renders `record` as the info-level `command` line into this thread's batch.
    func write(_ record: AgentAuditRecord) {
        // One thread-specific lookup per line: the batch, once this loop has one.
        guard let batch = batches.currentValue ?? newBatch() else {
            var line: [UInt8] = []
            line.reserveCapacity(192)
            render(
                record,
                timestamp: stamped
                    ? FleetLogHandler.timestampBytes(millisecondsSince1970: FleetLogHandler.millisecondsNow()) : nil,
                into: &line)
            sink.append(line)
            return
        }
        batch.lock.withLock {
            if stamped, !batch.stampIsCurrent {
                let now = FleetLogHandler.millisecondsNow()
                if now != batch.stampMillisecond {
                    batch.stampMillisecond = now
                    batch.stamp = FleetLogHandler.timestampBytes(millisecondsSince1970: now)
                }
                batch.stampIsCurrent = true
            }
            let timestamp = stamped ? batch.stamp : nil
            if !renderInPlace(record, timestamp: timestamp, into: batch) {
                var line: [UInt8] = []
                render(record, timestamp: timestamp, into: &line)
                if !batch.append(line) {
                    handOver(batch)
                    if !batch.append(line) { sink.append(line) }  // longer than a batch: on its own
                }
            }
            batch.lines += 1
            if batch.count >= limit {
                handOver(batch)
            } else if !batch.scheduled {
                batch.scheduled = true
                batch.loop.execute {
                    batch.lock.withLock {
                        batch.scheduled = false
                        self.handOver(batch)
                    }
                }
            }
        }
    }

    /// Hands the calling event loop's lines to the sink now: before a batch's replies are written
    /// (``AgentConnectionHooks/auditWillReply``), so that the lines are queued before the client sees the replies.
    func handOverCurrent() {
        guard let batch = batches.currentValue else { return }
        batch.lock.withLock { handOver(batch) }
    }

    /// Hands every thread's lines to the sink now.
    func flush() {
        for batch in all.withLockedValue({ $0 }) {
            batch.lock.withLock { handOver(batch) }
        }
    }

    /// Under the batch's lock.
    private func handOver(_ batch: Batch) {
        batch.stampIsCurrent = false
        guard batch.count > 0 else { return }
        sink.append(UnsafeRawBufferPointer(rebasing: batch.storage[..<batch.count]), lines: batch.lines)
        batch.count = 0
        batch.lines = 0
    }

    /// The common line (text or logfmt, every value bare) written straight into the batch, which is handed over
    /// first when the line might not fit; `false` (nothing written) for any other line.
    private func renderInPlace(_ record: AgentAuditRecord, timestamp: [UInt8]?, into batch: Batch) -> Bool {
        guard format != .json else { return false }
        for attempt in 0..<2 {
            switch AuditLineWriter.write(
                record, logfmt: format == .logfmt, timestamp: timestamp, journald: journald, to: batch.end,
                capacity: batch.free, known: &batch.known)
            {
            case .written(let count):
                batch.count += count
                return true
            case .notPlain:
                return false
            case .noRoom:
                guard attempt == 0, batch.count > 0 else { return false }  // too long even for an empty batch
                handOver(batch)
            }
        }
        return false
    }

    /// The calling thread's new batch, when the thread is an event loop's; `nil` otherwise.
    private func newBatch() -> Batch? {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        let batch = Batch(loop: loop, capacity: limit + 4096)
        batches.currentValue = batch
        all.withLockedValue { $0.append(batch) }
        return batch
    }

    private func render(_ record: AgentAuditRecord, timestamp: [UInt8]?, into out: inout [UInt8]) {
        if format == .json {
            FleetLogHandler.render(
                level: .info, message: "command", fields: record.fields, format: format, timestamp: timestamp,
                journald: journald, into: &out)
        } else {
            FleetLogHandler.renderAudit(
                record, logfmt: format == .logfmt, timestamp: timestamp, journald: journald, into: &out)
        }
        out.append(0x0A)
    }
}
