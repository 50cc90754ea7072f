import FleetAgent
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import FleetCLI

/// The agent's audit line written the fast way (``AuditBatcher``) must be the very line the logger path writes for
/// the same record, in every format; batches must hand over every line, in order; and the sink behind both must
/// never block, lose or reorder.
@Suite struct AuditLogTests {
    private let records = [
        AgentAuditRecord(
            peer: "127.0.0.1:5555", connectionID: 42, commandName: "PING", commandText: "PING", isError: false,
            duration: .microseconds(4)),
        AgentAuditRecord(
            peer: "[::1]:80", connectionID: 0, commandName: "(unknown)", commandText: #"ECHO a="b" \x1b"#,
            isError: true, duration: .milliseconds(1234) + .microseconds(500), identity: "CN=ops,O=Fleet"),
        AgentAuditRecord(
            peer: "10.0.0.1:9", connectionID: 1_234_567, commandName: "exec", commandText: "RUN x\u{301}…",
            isError: false, duration: .seconds(3)),
    ]

    @Test func durationTextIsMillisecondsToTheMicrosecond() {
        #expect(records[0].durationText == "0.004")
        #expect(records[1].durationText == "1234.5")
        #expect(records[2].durationText == "3000.0")
        #expect(
            AgentAuditRecord(
                peer: "", connectionID: 0, commandName: "", commandText: "", isError: false,
                duration: .nanoseconds(1_500)
            ).durationText == "0.002")
    }

    @Test(arguments: FleetLogHandler.Format.allCases, [false, true])
    func theFastLineIsTheLoggersLine(format: FleetLogHandler.Format, journald: Bool) throws {
        for record in records {
            var slow: [UInt8] = []
            FleetLogHandler.render(
                level: .info, message: "command", metadata: record.metadata, format: format,
                timestamp: journald && format == .text ? nil : Array("2026-12-01T00:00:00.000Z".utf8),
                journald: journald, into: &slow)
            let pipe = Pipe()
            let writer = AuditBatcher(
                format: format, journald: journald, sink: LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor))
            writer.write(record)  // not on an event loop: straight to the sink
            let line = try #require(String(data: pipe.fileHandleForReading.availableData, encoding: .utf8))
            let expected = String(decoding: slow, as: UTF8.self)
            // The time stamps differ (the writer uses the clock): compare what follows them.
            #expect(line.hasSuffix("\n"))
            if journald && format == .text {
                #expect(line == expected + "\n")
            } else {
                let stamp = "2026-12-01T00:00:00.000Z"
                let tail = expected.components(separatedBy: stamp)
                #expect(tail.count == 2)
                #expect(line.hasPrefix(tail[0]))
                #expect(line.hasSuffix(tail[1] + "\n"))
                #expect(line.count == expected.count + 1)
            }
        }
    }

    /// The in-place writer (``AuditLineWriter``, the batches' path) writes, for every record whose values stand
    /// bare, the very line the general renderer writes; it leaves every other record to that renderer, and writes
    /// nothing when the line might not fit.
    @Test(arguments: [FleetLogHandler.Format.text, .logfmt], [false, true])
    func theInPlaceLineIsTheRenderersLine(format: FleetLogHandler.Format, journald: Bool) {
        let plain = [
            records[0],
            AgentAuditRecord(
                peer: "[::1]:80", connectionID: 0, commandName: "(unknown)", commandText: "STATUS", isError: true,
                duration: .milliseconds(1234) + .microseconds(500)),
            AgentAuditRecord(
                peer: "10.0.0.1:9", connectionID: 1_234_567_890_123, commandName: "get-temp", commandText: "TEMP?",
                isError: false, duration: .seconds(3)),
        ]
        let durations: [Duration] = [
            .zero, .nanoseconds(499), .nanoseconds(1_500), .microseconds(10), .microseconds(999),
        ]
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1024, alignment: 1)
        defer { buffer.deallocate() }
        // One memory of bare values across every line, as a batch keeps it: a value it remembers must not let
        // another pass unchecked.
        var known = AuditLineWriter.KnownBare()
        for timestamp in [nil, Array("2026-12-01T00:00:00.000Z".utf8)] {
            func line(_ record: AgentAuditRecord, capacity: Int = 1024) -> AuditLineWriter.Outcome {
                AuditLineWriter.write(
                    record, logfmt: format == .logfmt, timestamp: timestamp, journald: journald,
                    to: buffer.baseAddress!, capacity: capacity, known: &known)
            }
            for record in plain
                + durations.map({ duration in
                    AgentAuditRecord(
                        peer: "127.0.0.1:1", connectionID: 7, commandName: "PING", commandText: "PING", isError: false,
                        duration: duration)
                })
            {
                var expected: [UInt8] = []
                FleetLogHandler.renderAudit(
                    record, logfmt: format == .logfmt, timestamp: timestamp, journald: journald, into: &expected)
                expected.append(0x0A)
                #expect(line(record) == .written(expected.count))
                #expect(Array(buffer[..<expected.count]) == expected, "\(String(decoding: expected, as: UTF8.self))")
                #expect(line(record, capacity: expected.count - 1) == .noRoom)
            }
            var empty = records[0]
            empty.commandText = ""
            var spacedPeer = records[0]
            spacedPeer.peer = "local socket"
            var spacedName = records[0]
            spacedName.commandName = "get temp"
            for record in records.dropFirst() + [empty, spacedPeer, spacedName] {
                #expect(line(record) == .notPlain)
                #expect(line(records[0]) != .notPlain)  // remembered again, just before the next one
            }
        }
    }

    /// Two event loops write 5,000 lines each in bursts; hand-overs by size (a small limit) and by tick: every line
    /// arrives once, whole, in the order each loop wrote it.
    @Test func linesWrittenOnEventLoopsArriveWholeAndInOrder() async throws {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let batcher = AuditBatcher(format: .logfmt, journald: false, sink: sink, limit: 4096)
        let reader = PipeReader(pipe)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var futures: [EventLoopFuture<Void>] = []
        for (number, loop) in group.makeIterator().enumerated() {
            for burst in 0..<100 {
                futures.append(
                    loop.submit {
                        for index in 0..<50 {
                            batcher.write(
                                AgentAuditRecord(
                                    peer: "127.0.0.1:1", connectionID: number, commandName: "PING",
                                    commandText: "C\(burst * 50 + index)", isError: false, duration: .microseconds(3)))
                        }
                    })
            }
        }
        for future in futures { try await future.get() }
        // One more task per loop: it runs after the hand-overs the last bursts scheduled (tasks run in order).
        for loop in group.makeIterator() { try await loop.submit {}.get() }
        sink.flush(timeout: 10)
        try await group.shutdownGracefully()
        try pipe.fileHandleForWriting.close()
        let lines = String(decoding: reader.wait(), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 10_000)
        for number in 0..<2 {
            let texts = lines.filter { $0.contains(" connection.id=\(number) ") }.compactMap { line in
                line.split(separator: " ").first { $0.hasPrefix("command.text=") }.map { $0.dropFirst(13) }
            }
            #expect(texts == (0..<5000).map { "C\($0)"[...] })
        }
    }

    /// ``AuditBatcher/handOverCurrent()`` (called before a batch's replies are written) hands the calling loop's
    /// lines over at once, not at the end of the loop's tick: a client that waits for each reply finds the lines
    /// in its order, whichever loop served each command.
    @Test func handOverCurrentQueuesTheLoopsLinesBeforeTheReply() async throws {
        let written = try await linesWhileTheLoopIsHeld(onTheLoop: { $0.handOverCurrent() }, fromTheTest: { _ in })
        #expect(written.contains(" command.text=PING connection.id=42 "))
    }

    /// ``AuditBatcher/flush()`` hands over lines whose loop has not yet run its hand-over (the agent stopping).
    @Test func flushHandsOverWhatTheLoopsHoldNow() async throws {
        let written = try await linesWhileTheLoopIsHeld(onTheLoop: { _ in }, fromTheTest: { $0.flush() })
        #expect(written.contains(" command.text=PING connection.id=42 "))
    }

    /// The lines of one batch (commands answered together) share one reading of the clock; a line after the
    /// batch was handed over reads it again.
    @Test func aBatchSharesOneReadingOfTheClock() async throws {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let batcher = AuditBatcher(format: .text, journald: false, sink: sink)
        let reader = PipeReader(pipe)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let record = records[0]
        try await group.next().submit {
            batcher.write(record)
            usleep(20_000)  // ok-sleep: the clock must move on by more than a millisecond
            batcher.write(record)
            batcher.handOverCurrent()
            usleep(20_000)  // ok-sleep: as above
            batcher.write(record)
            batcher.handOverCurrent()
        }.get()
        sink.flush(timeout: 10)
        try await group.shutdownGracefully()
        try pipe.fileHandleForWriting.close()
        let stamps = String(decoding: reader.wait(), as: UTF8.self).split(separator: "\n").map {
            $0.split(separator: " ").first.map(String.init) ?? ""
        }
        #expect(stamps.count == 3)
        guard stamps.count == 3 else { return }
        #expect(stamps[0] == stamps[1])
        #expect(stamps[2] > stamps[1])  // ISO 8601 in UTC, same width: text order is time order
    }

    /// Writes a record on an event loop and runs `onTheLoop` there, then `fromTheTest` while the loop is kept busy
    /// (so its own end-of-tick hand-over cannot run), and returns what reached the log by then.
    private func linesWhileTheLoopIsHeld(
        onTheLoop: @escaping @Sendable (AuditBatcher) -> Void, fromTheTest: (AuditBatcher) -> Void
    ) async throws -> String {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let batcher = AuditBatcher(format: .text, journald: false, sink: sink)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = ConditionLock(value: 0)
        let record = records[0]
        let written = group.next().submit {
            batcher.write(record)
            onTheLoop(batcher)
            gate.lock()
            gate.unlock(withValue: 1)  // written
            gate.lock(whenValue: 2)  // held until the test has looked
            gate.unlock()
        }
        gate.lock(whenValue: 1)
        gate.unlock()
        fromTheTest(batcher)
        sink.flush(timeout: 10)
        let data = PipeReader.available(pipe)  // before the loop can run its own hand-over
        gate.lock()
        gate.unlock(withValue: 2)
        try await written.get()
        try await group.shutdownGracefully()
        return String(decoding: data, as: UTF8.self)
    }

    @Test func theSinkWritesEveryLineInOrder() async throws {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let reader = PipeReader(pipe)
        for number in 0..<20_000 { sink.append(Array("line \(number)\n".utf8)) }
        sink.flush(timeout: 10)
        try pipe.fileHandleForWriting.close()
        let lines = String(decoding: reader.wait(), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 20_000)
        #expect(lines.enumerated().allSatisfy { $0.element == "line \($0.offset)" })
    }

    @Test func aLineFromTextGetsItsNewlineAndKeepsItsPlace() async throws {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let reader = PipeReader(pipe)
        for number in 0..<5_000 {
            if number.isMultiple(of: 2) {
                sink.appendLine("{\"n\":\(number),\"long\":\"\(String(repeating: "é", count: number % 40))\"}")
            } else {
                sink.append(Array("line \(number)\n".utf8))
            }
        }
        sink.flush(timeout: 10)
        try pipe.fileHandleForWriting.close()
        let lines = String(decoding: reader.wait(), as: UTF8.self).split(
            separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 5_001 && lines.last == "")
        for (number, line) in lines.dropLast().enumerated() {
            let expected =
                number.isMultiple(of: 2)
                ? "{\"n\":\(number),\"long\":\"\(String(repeating: "é", count: number % 40))\"}" : "line \(number)"
            #expect(line == expected)
        }
    }

    /// Nobody reads the descriptor: the sink holds at most its limit, drops (and counts) the rest without blocking
    /// the caller, and once the reader catches up it says how many lines it dropped.
    @Test func aStalledDescriptorDropsCountsAndReports() async throws {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor, limit: 4096)
        sink.droppedNotice = { count in Array("dropped count=\(count)\n".utf8) }
        let line = [UInt8](repeating: UInt8(ascii: "x"), count: 99) + [0x0A]
        let began = ContinuousClock.now
        for _ in 0..<10_000 { sink.append(line) }  // 1 MB into a 64 KiB pipe that nobody reads
        #expect(ContinuousClock.now - began < .seconds(5))
        let reader = PipeReader(pipe)
        sink.flush(timeout: 10)
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: reader.wait(), as: UTF8.self)
        let written = text.split(separator: "\n").filter { $0.hasPrefix("x") }.count
        let reported = text.split(separator: "\n").compactMap { line -> Int? in
            line.hasPrefix("dropped count=") ? Int(line.dropFirst("dropped count=".count)) : nil
        }.reduce(0, +)
        #expect(written > 0)
        #expect(reported > 0)
        #expect(written + reported == 10_000)
    }
}

/// Reads a pipe to its end on a thread of its own: a blocking read must not hold one of the few threads of Swift's
/// concurrency pool (on a 2-core machine, two such reads starve every other test).
final class PipeReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ pipe: Pipe) {
        let thread = Thread { [self] in
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
        thread.start()
    }

    func wait() -> Data {
        done.wait()
        return data
    }

    /// What the pipe holds now, without waiting for more.
    static func available(_ pipe: Pipe) -> Data {
        let descriptor = pipe.fileHandleForReading.fileDescriptor
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        var result = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count <= 0 { break }
            result.append(contentsOf: buffer[..<count])
        }
        return result
    }
}
