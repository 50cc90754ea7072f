/// Where a worker's lane last claimed, per site ("" for devices of none): its next claim reads on from there, and
/// reads from the start again (for devices given back, or claimed by a worker whose lease ran out) at most once per
/// half lease: a scan from the start reads every dead index entry of the devices already handled.
public struct ClaimCursor: Sendable, Hashable {
    public struct Position: Sendable, Hashable {
        public var run: String
        public var position: Int
    }

    public var positions: [String: Position] = [:]
    /// Per site: no scan from the start before this.
    public var rescanAfter: [String: ContinuousClock.Instant] = [:]

    public init() {}

    func mayRescan(_ key: String, now: ContinuousClock.Instant) -> Bool {
        rescanAfter[key].map { now >= $0 } ?? true
    }
}
