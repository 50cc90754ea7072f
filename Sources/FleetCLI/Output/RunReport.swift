import FleetRunner
import Foundation

/// How a fleet run is shown: replies grouped under folded host lists (as `clush -b` / `dshbak -c`), failures by
/// outcome last, one summary line; and the exit status that sums the fleet up.
enum RunReport {
    static func lines(_ results: [DeviceResult], elapsed: Duration) -> [String] {
        var lines: [String] = []
        // Identical replies (all of a device's, in order) form one group; error replies are marked.
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
        for replies in order.sorted(by: { groups[$0]!.names.count > groups[$1]!.names.count }) {  // keys of groups
            let group = groups[replies]!
            let marker = group.outcome == .errorReply ? "  [error-reply]" : ""
            lines.append("\(HostList.fold(group.names)) (\(group.names.count))\(marker)")
            for reply in replies { lines.append("  " + reply) }
        }
        if !failures.isEmpty {
            lines.append("failed:")
            for outcome in failures.keys.sorted() {
                let names = failures[outcome]!  // key from the dictionary
                lines.append("  \(outcome.rawValue) (\(names.count)): \(HostList.fold(names))")
            }
        }
        lines.append(summary(results, elapsed: elapsed))
        return lines
    }

    static func summary(_ results: [DeviceResult], elapsed: Duration) -> String {
        var counts: [Outcome: Int] = [:]
        for result in results { counts[result.outcome, default: 0] += 1 }
        let failed = results.filter { $0.outcome.isFailure }.count
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var parts = ["\(counts[.ok] ?? 0) ok"]
        if let errors = counts[.errorReply] { parts.append("\(errors) error-reply") }
        if failed > 0 { parts.append("\(failed) failed") }
        if let unknown = counts[.unknown] { parts.append("\(unknown) unknown") }
        if let skipped = counts[.skipped] { parts.append("\(skipped) skipped") }
        let resumed = results.filter { $0.resumed == true }.count
        let rate = Double(results.count - resumed) / max(seconds, 1e-9)
        return String(
            format: "%d devices: %@ in %.2f s (%.0f devices/s)%@", results.count, parts.joined(separator: ", "),
            seconds,
            rate, resumed > 0 ? " (\(resumed) from the journal)" : "")
    }

    /// The fleet's exit status: the worst of unknown (12), failed (11), error reply (10); skipped (13) when
    /// interrupted; 0 when every device is ok.
    static func exitStatus(_ results: [DeviceResult]) -> Int32 {
        if results.contains(where: { $0.outcome == .skipped }) { return ExitStatus.runInterrupted }
        if results.contains(where: { $0.outcome == .unknown }) { return ExitStatus.runUnknown }
        if results.contains(where: { $0.outcome.isFailure }) { return ExitStatus.runFailed }
        if results.contains(where: { $0.outcome == .errorReply }) { return ExitStatus.runErrorReply }
        return ExitStatus.success
    }

    static func json(_ result: DeviceResult) -> String { result.json }
}
