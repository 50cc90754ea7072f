/// A device a worker has claimed: where it stands in its run, and what is needed to talk to it.
public struct ClaimedDevice: Sendable, Hashable {
    public var runID: String
    public var position: Int
    public var name: String
    public var address: String
    public var host: StoredHost
}
