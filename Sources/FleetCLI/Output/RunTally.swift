import FleetRunner
import Foundation

/// What a run's report needs of its results, and nothing more: per device a group number (4 bytes), per group
/// of identical replies the replies once, per outcome a count. `fleetcmd run` tallies results as they finish
/// instead of keeping them, so a million devices cost megabytes, not gigabytes; the report names devices from
/// the run's own list of targets.
struct RunTally {
    /// The replies of a group of devices that answered alike.
    private struct Group {
        var replies: [String]
        var outcome: Outcome
    }

    /// Per device (target index): `-1` for no result yet, a group number for ok / error-reply, or
    /// `failureBase + outcome index` for the other outcomes.
    private var groupOf: [Int32]
    private var groups: [Group] = []
    private var groupNumber: [[String]: Int32] = [:]
    private var counts: [Outcome: Int] = [:]
    private(set) var resumed = 0
    private static let failureBase: Int32 = 1 << 30

    /// Masks volatile parts of replies before they are grouped (`--normalize`).
    private let normalizer: ReplyNormalizer?

    init(devices: Int, normalizer: ReplyNormalizer? = nil) {
        groupOf = Array(repeating: -1, count: devices)
        self.normalizer = normalizer.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Results in target order (tests, the demo, `--format json`).
    init(_ results: [DeviceResult], normalizer: ReplyNormalizer? = nil) {
        self.init(devices: results.count, normalizer: normalizer)
        for (index, result) in results.enumerated() { add(result, at: index) }
    }

    var total: Int { counts.values.reduce(0, +) }

    /// Distinct reply groups held.
    var groupCount: Int { groups.count }

    mutating func add(_ result: DeviceResult, at index: Int) {
        counts[result.outcome, default: 0] += 1
        if result.resumed == true { resumed += 1 }
        switch result.outcome {
        case .ok, .errorReply:
            let replies = normalizer.map { normalizer in result.replies.map(normalizer.normalize) } ?? result.replies
            let number: Int32
            if let known = groupNumber[replies] {
                number = known
            } else {
                number = Int32(groups.count)
                groupNumber[replies] = number
                groups.append(Group(replies: replies, outcome: result.outcome))
            }
            groupOf[index] = number
        default:
            groupOf[index] = Self.failureBase + Int32(Outcome.allCases.firstIndex(of: result.outcome)!)  // every case
        }
    }

    /// Counts every device without a result as skipped (never started: the run was interrupted).
    mutating func skipUnfinished() {
        let skipped = Self.failureBase + Int32(Outcome.allCases.firstIndex(of: .skipped)!)  // a case
        for index in groupOf.indices where groupOf[index] < 0 {
            groupOf[index] = skipped
            counts[.skipped, default: 0] += 1
        }
    }

    func count(_ outcome: Outcome) -> Int { counts[outcome] ?? 0 }

    /// Devices (names from `names`, by target index) with the given outcome, in target order.
    func names(_ names: [String], where include: (Outcome) -> Bool) -> [String] {
        names.indices.filter { index in outcome(at: index).map(include) ?? false }.map { names[$0] }
    }

    private func outcome(at index: Int) -> Outcome? {
        let number = groupOf[index]
        if number < 0 { return nil }
        if number >= Self.failureBase { return Outcome.allCases[Int(number - Self.failureBase)] }
        return groups[Int(number)].outcome
    }

    /// Groups of identical replies under folded host lists, largest first; failures by outcome; the summary.
    func lines(names: [String], elapsed: Duration) -> [String] {
        var members = Array(repeating: [String](), count: groups.count)
        var firstSeen = Array(repeating: Int.max, count: groups.count)
        var failures: [Outcome: [String]] = [:]
        for (index, name) in names.enumerated() {
            let number = groupOf[index]
            if number < 0 { continue }
            if number >= Self.failureBase {
                failures[Outcome.allCases[Int(number - Self.failureBase)], default: []].append(name)
            } else {
                if members[Int(number)].isEmpty { firstSeen[Int(number)] = index }
                members[Int(number)].append(name)
            }
        }
        var lines: [String] = []
        // Largest first; groups of equal size in the order their first device has among the targets.
        let order = groups.indices.sorted {
            members[$0].count != members[$1].count
                ? members[$0].count > members[$1].count : firstSeen[$0] < firstSeen[$1]
        }
        for number in order where !members[number].isEmpty {
            let group = groups[number]
            let marker = group.outcome == .errorReply ? "  [error-reply]" : ""
            lines.append("\(HostList.fold(members[number])) (\(members[number].count))\(marker)")
            for reply in group.replies { lines.append("  " + reply) }
        }
        if !failures.isEmpty {
            lines.append("failed:")
            for outcome in failures.keys.sorted() {
                let names = failures[outcome]!  // key from the dictionary
                lines.append("  \(outcome.rawValue) (\(names.count)): \(HostList.fold(names))")
            }
        }
        lines.append(summary(elapsed: elapsed))
        return lines
    }

    func summary(elapsed: Duration) -> String {
        let failed = counts.filter { $0.key.isFailure }.values.reduce(0, +)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var parts = ["\(count(.ok)) ok"]
        if let errors = counts[.errorReply] { parts.append("\(errors) error-reply") }
        if failed > 0 { parts.append("\(failed) failed") }
        if let unknown = counts[.unknown] { parts.append("\(unknown) unknown") }
        if let skipped = counts[.skipped] { parts.append("\(skipped) skipped") }
        let rate = Double(total - resumed) / max(seconds, 1e-9)
        return String(
            format: "%d device%@: %@ in %.2f s (%.0f devices/s)%@", total, total == 1 ? "" : "s",
            parts.joined(separator: ", "), seconds, rate,
            resumed > 0 ? " (\(resumed) from the journal)" : "")
    }

    /// The fleet's exit status: skipped (13) when interrupted; else the worst of unknown (12), failed (11), error
    /// reply (10); 0 when every device is ok.
    var exitStatus: Int32 {
        if count(.skipped) > 0 { return ExitStatus.runInterrupted }
        if count(.unknown) > 0 { return ExitStatus.runUnknown }
        if counts.contains(where: { $0.key.isFailure && $0.value > 0 }) { return ExitStatus.runFailed }
        if count(.errorReply) > 0 { return ExitStatus.runErrorReply }
        return ExitStatus.success
    }
}
