/// A worker as `runs watch` shows it: where it runs and how long ago it was last heard from.
public struct WorkerStatus: Sendable, Hashable {
    public var id: String
    public var site: String?
    /// Seconds since its last heartbeat, by the store's clock.
    public var silentFor: Double
    public var leaseSeconds: Double

    /// Silent for longer than its lease: its claims are taken over and its intents settled as unknown.
    public var isLost: Bool { silentFor > leaseSeconds }

    public init(id: String, site: String?, silentFor: Double, leaseSeconds: Double) {
        self.id = id
        self.site = site
        self.silentFor = silentFor
        self.leaseSeconds = leaseSeconds
    }
}
