import FleetAgent
import Foundation
import Logging
import Testing

@testable import FleetCLI

/// The agent's audit line written the fast way (``FleetLogHandler/auditWriter``) must be the very line the logger
/// path writes for the same record, in every format; and the sink behind both must never block, lose or reorder.
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
            let writer = FleetLogHandler.auditWriter(
                level: .info, format: format, environment: journald ? ["JOURNAL_STREAM": "1:2"] : [:],
                sink: LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor))
            writer(record)
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

    @Test func aboveInfoNothingIsWritten() throws {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        FleetLogHandler.auditWriter(level: .warning, format: .text, sink: sink)(records[0])
        sink.flush(timeout: 1)
        try pipe.fileHandleForWriting.close()
        #expect(pipe.fileHandleForReading.readDataToEndOfFile().isEmpty)
    }

    @Test func theSinkWritesEveryLineInOrder() async throws {
        let pipe = Pipe()
        let sink = LogSink(descriptor: pipe.fileHandleForWriting.fileDescriptor)
        let reader = Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }
        for number in 0..<20_000 { sink.append(Array("line \(number)\n".utf8)) }
        sink.flush(timeout: 10)
        try pipe.fileHandleForWriting.close()
        let lines = String(decoding: await reader.value, as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 20_000)
        #expect(lines.enumerated().allSatisfy { $0.element == "line \($0.offset)" })
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
        let reader = Task.detached { pipe.fileHandleForReading.readDataToEndOfFile() }
        sink.flush(timeout: 10)
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: await reader.value, as: UTF8.self)
        let written = text.split(separator: "\n").filter { $0.hasPrefix("x") }.count
        let reported = text.split(separator: "\n").compactMap { line -> Int? in
            line.hasPrefix("dropped count=") ? Int(line.dropFirst("dropped count=".count)) : nil
        }.reduce(0, +)
        #expect(written > 0)
        #expect(reported > 0)
        #expect(written + reported == 10_000)
    }
}
