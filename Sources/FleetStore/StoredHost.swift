/// What a worker needs of a device's inventory entry to talk to it as the coordinator would: its variables as text
/// (never `fleetcmd_password`: workers take passwords from their own environment) and the port of its own entry.
public struct StoredHost: Sendable, Hashable, Codable {
    public var values: [String: String]
    public var entryPort: Int?

    public init(values: [String: String], entryPort: Int?) {
        self.values = values.filter { $0.key != "fleetcmd_password" }
        self.entryPort = entryPort
    }

    enum CodingKeys: String, CodingKey {
        case values
        case entryPort = "entry_port"
    }
}
