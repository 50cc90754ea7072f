import FleetRunner
import Testing

@testable import FleetCLI

/// `fleetcmd run` tallies results as they finish instead of keeping them. The report made from the tally, fed
/// in any completion order, must be the report the kept results give in target order.
@Suite struct RunTallyTests {
    private func fleet() -> [DeviceResult] {
        (0..<60).map { index in
            let name = "dev\(index)"
            switch index % 6 {
            case 0, 1: return DeviceResult(device: name, address: "a:1", outcome: .ok, replies: ["OK ready"])
            case 2: return DeviceResult(device: name, address: "a:1", outcome: .ok, replies: ["OK", "busy"])
            case 3: return DeviceResult(device: name, address: "a:1", outcome: .errorReply, replies: ["ERR jam"])
            case 4: return DeviceResult(device: name, address: "a:1", outcome: .replyTimeout, error: "timed out")
            default: return DeviceResult(device: name, address: "a:1", outcome: .refused, error: "refused")
            }
        }
    }

    @Test func theTallyInAnyCompletionOrderReportsAsTheKeptResults() {
        let results = fleet()
        let names = results.map(\.device)
        let expected = RunReportReference.lines(results)
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            var tally = RunTally(devices: results.count)
            for index in results.indices.shuffled(using: &generator) { tally.add(results[index], at: index) }
            #expect(tally.lines(names: names, elapsed: .seconds(2)) == expected)
            #expect(tally.exitStatus == ExitStatus.runFailed)
            #expect(tally.names(names, where: { $0 == .ok }) == names.enumerated().filter { $0.0 % 6 < 3 }.map(\.1))
        }
    }

    @Test func devicesThatNeverStartedAreSkippedAndTheRunIsInterrupted() {
        let results = fleet()
        var tally = RunTally(devices: results.count)
        for index in 0..<30 { tally.add(results[index], at: index) }
        tally.skipUnfinished()
        #expect(tally.count(.skipped) == 30)
        #expect(tally.total == 60)
        #expect(tally.exitStatus == ExitStatus.runInterrupted)
        #expect(
            tally.summary(elapsed: .seconds(1)).hasPrefix("60 devices: 15 ok, 5 error-reply, 10 failed, 30 skipped"))
    }

    @Test func aTallyHoldsOneCopyOfEachDistinctReplyAndFourBytesPerDevice() {
        var tally = RunTally(devices: 100_000)
        for index in 0..<100_000 {
            tally.add(DeviceResult(device: "d\(index)", address: "a:1", outcome: .ok, replies: ["OK ready"]), at: index)
        }
        #expect(tally.groupCount == 1)
        #expect(tally.count(.ok) == 100_000)
    }
}

/// The report as it was made from every kept result before the tally (the reference the tally must match).
enum RunReportReference {
    static func lines(_ results: [DeviceResult]) -> [String] {
        var lines: [String] = []
        var groups: [[String]: (outcome: Outcome, names: [String])] = [:]
        var order: [[String]] = []
        var failures: [Outcome: [String]] = [:]
        for result in results {
            switch result.outcome {
            case .ok, .errorReply:
                if groups[result.replies] == nil { order.append(result.replies) }
                groups[result.replies, default: (result.outcome, [])].names.append(result.device)
            default:
                failures[result.outcome, default: []].append(result.device)
            }
        }
        for replies in order.sorted(by: { groups[$0]!.names.count > groups[$1]!.names.count }) {
            let group = groups[replies]!
            let marker = group.outcome == .errorReply ? "  [error-reply]" : ""
            lines.append("\(HostList.fold(group.names)) (\(group.names.count))\(marker)")
            for reply in replies { lines.append("  " + reply) }
        }
        if !failures.isEmpty {
            lines.append("failed:")
            for outcome in failures.keys.sorted() {
                let names = failures[outcome]!
                lines.append("  \(outcome.rawValue) (\(names.count)): \(HostList.fold(names))")
            }
        }
        lines.append(RunTally(results).summary(elapsed: .seconds(2)))
        return lines
    }
}
