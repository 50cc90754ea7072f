import FleetRunner
import Foundation

/// How a fleet run is shown: replies grouped under folded host lists (as `clush -b` / `dshbak -c`), failures by
/// outcome last, one summary line; and the exit status that sums the fleet up.
enum RunReport {
    static func lines(_ results: [DeviceResult], elapsed: Duration) -> [String] {
        RunTally(results).lines(names: results.map(\.device), elapsed: elapsed)
    }

    static func summary(_ results: [DeviceResult], elapsed: Duration) -> String {
        RunTally(results).summary(elapsed: elapsed)
    }

    /// The fleet's exit status: the worst of unknown (12), failed (11), error reply (10); skipped (13) when
    /// interrupted; 0 when every device is ok.
    static func exitStatus(_ results: [DeviceResult]) -> Int32 { RunTally(results).exitStatus }

    static func json(_ result: DeviceResult) -> String { result.json }
}
