import Foundation

/// Where runs are journaled: `$FLEETCMD_STATE_DIR`, else `$XDG_STATE_HOME/fleetcmd`, else `~/.local/state/fleetcmd`.
enum StateDirectory {
    static var path: String {
        let environment = ProcessEnvironment.variables
        if let explicit = environment["FLEETCMD_STATE_DIR"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_STATE_HOME"], !xdg.isEmpty {
            return (xdg as NSString).appendingPathComponent("fleetcmd")
        }
        return (HomeDirectory.path(environment) as NSString).appendingPathComponent(".local/state/fleetcmd")
    }

    static var runs: String { (path as NSString).appendingPathComponent("runs") }

    /// The journal for `run`: a path when it names a file, else the run id's journal in the state directory.
    static func journalPath(forRun run: String) -> String {
        if run.contains("/") || run.hasSuffix(".jsonl") || FileManager.default.fileExists(atPath: run) { return run }
        return (runs as NSString).appendingPathComponent(run + ".jsonl")
    }

    /// `20261125-162719-3fa2`: sortable by start time (UTC), unique enough for one operator. Made from the log's
    /// time stamp, not with a `DateFormatter`: that loads ICU's calendar and time zone data, milliseconds before a
    /// run's first device.
    static func newRunID() -> String {
        newRunID(timestamp: FleetLogHandler.timestampBytes(), random: UInt16.random(in: 0...UInt16.max))
    }

    /// The id for a time stamp as ``FleetLogHandler/timestampBytes()`` writes it (`2026-11-25T16:27:19.123Z`).
    static func newRunID(timestamp: [UInt8], random: UInt16) -> String {
        let separators: Set<UInt8> = [UInt8(ascii: "-"), UInt8(ascii: ":")]
        let fraction = timestamp.firstIndex(of: UInt8(ascii: ".")) ?? timestamp.endIndex
        var id = timestamp[..<fraction].filter { !separators.contains($0) }
        if let time = id.firstIndex(of: UInt8(ascii: "T")) { id[time] = UInt8(ascii: "-") }
        let hex = String(random, radix: 16)
        return String(decoding: id, as: UTF8.self) + "-" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
