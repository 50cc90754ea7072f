import Logging
import NIOConcurrencyHelpers
import Testing

@testable import FleetAgent

/// Collects log lines (message and metadata) in memory; one per test, never bootstrapped globally.
final class CapturedLines: Sendable {
    let lines = NIOLockedValueBox<[String]>([])
}

struct CapturingHandler: LogHandler {
    let captured: CapturedLines
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let extra = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        captured.lines.withLockedValue { $0.append(([event.message.description] + extra).joined(separator: " ")) }
    }
}

@Suite struct LogRateLimiterTests {
    @Test func floodsAreCutToABurstAndSummarisedInTheNextWindow() {
        let captured = CapturedLines()
        let logger = Logger(label: "test") { _ in CapturingHandler(captured: captured) }
        let start = ContinuousClock.now
        let clock = NIOLockedValueBox(start)
        let limiter = LogRateLimiter(burst: 2, window: .seconds(10)) { clock.withLockedValue { $0 } }
        for index in 0..<5 { limiter.info(logger, kind: "denied", "denied", metadata: ["n": "\(index)"]) }
        #expect(captured.lines.withLockedValue { $0 } == ["denied n=0", "denied n=1"])
        clock.withLockedValue { $0 = start + .seconds(11) }
        limiter.info(logger, kind: "denied", "denied", metadata: ["n": "5"])
        #expect(
            captured.lines.withLockedValue { $0 } == [
                "denied n=0", "denied n=1", "similar events were not logged event=denied suppressed=3", "denied n=5",
            ])
    }

    @Test func kindsHaveTheirOwnBudget() {
        let captured = CapturedLines()
        let logger = Logger(label: "test") { _ in CapturingHandler(captured: captured) }
        let limiter = LogRateLimiter(burst: 1, window: .seconds(10))
        limiter.info(logger, kind: "a", "a", metadata: [:])
        limiter.info(logger, kind: "a", "a", metadata: [:])
        limiter.info(logger, kind: "b", "b", metadata: [:])
        #expect(captured.lines.withLockedValue { $0 } == ["a", "b"])
    }
}
