/// A device of a run being created, in inventory order.
public struct NewDevice: Sendable, Hashable {
    public var name: String
    public var address: String
    /// `fleetcmd_site`: only workers of this site may claim it; nil, any worker.
    public var site: String?
    public var host: StoredHost

    public init(name: String, address: String, site: String?, host: StoredHost) {
        self.name = name
        self.address = address
        self.site = site
        self.host = host
    }
}
