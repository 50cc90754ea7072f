/// A shared run's devices counted by state, by outcome, and by site and worker.
public struct RunProgress: Sendable, Hashable {
    public var total = 0
    public var done = 0
    public var ok = 0
    public var sending = 0
    public var byOutcome: [String: Int] = [:]
    /// The same counts per site ("" for devices with none) and per worker (devices a worker holds or finished;
    /// devices nobody holds are in no worker's counts).
    public var bySite: [String: StateCounts] = [:]
    public var byWorker: [String: StateCounts] = [:]

    /// Devices by where they are: waiting (pending, or claimed and not started), sending (intent committed, no
    /// outcome yet), done (of which ok).
    public struct StateCounts: Sendable, Hashable {
        public var total = 0
        public var waiting = 0
        public var sending = 0
        public var done = 0
        public var ok = 0

        mutating func add(state: String, outcome: String?, count: Int) {
            total += count
            switch state {
            case "sending": sending += count
            case "done":
                done += count
                if outcome == "ok" { ok += count }
            default: waiting += count
            }
        }
    }

    public init() {}

    public mutating func add(state: String, outcome: String?, site: String?, worker: String?, count: Int) {
        total += count
        if state == "sending" { sending += count }
        bySite[site ?? "", default: StateCounts()].add(state: state, outcome: outcome, count: count)
        if let worker, state != "pending" {
            byWorker[worker, default: StateCounts()].add(state: state, outcome: outcome, count: count)
        }
        guard state == "done" else { return }
        done += count
        if outcome == "ok" { ok += count }
        byOutcome[outcome ?? "unknown", default: 0] += count
    }

    public var isFinished: Bool { total > 0 && done == total }
}
