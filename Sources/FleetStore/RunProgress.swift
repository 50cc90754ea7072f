/// A shared run's devices counted by state, by outcome, and by site and worker.
public struct RunProgress: Sendable, Hashable {
    public var total = 0
    public var done = 0
    public var ok = 0
    public var sending = 0
    public var byOutcome: [String: Int] = [:]
    /// Devices done per site ("" for none) and per worker.
    public var doneBySite: [String: Int] = [:]
    public var doneByWorker: [String: Int] = [:]

    public init() {}

    mutating func add(state: String, outcome: String?, site: String?, worker: String?, count: Int) {
        total += count
        if state == "sending" { sending += count }
        guard state == "done" else { return }
        done += count
        if outcome == "ok" { ok += count }
        byOutcome[outcome ?? "unknown", default: 0] += count
        doneBySite[site ?? "", default: 0] += count
        if let worker { doneByWorker[worker, default: 0] += count }
    }

    public var isFinished: Bool { total > 0 && done == total }
}
