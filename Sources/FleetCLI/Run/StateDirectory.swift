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

    /// `20261125-162719-3fa2`: sortable by start time, unique enough for one operator.
    static func newRunID() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        return formatter.string(from: Date()) + "-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }
}
