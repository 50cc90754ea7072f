/// A worker as the store knows it: an id unique across machines, its site, and how long its claims and its
/// silence may last before others take its claims over (and settle its intents as unknown).
public struct WorkerIdentity: Sendable, Hashable {
    public var id: String
    public var site: String?
    public var host: String
    public var pid: Int
    public var leaseSeconds: Double

    public init(id: String, site: String?, host: String, pid: Int, leaseSeconds: Double) {
        self.id = id
        self.site = site
        self.host = host
        self.pid = pid
        self.leaseSeconds = leaseSeconds
    }
}
