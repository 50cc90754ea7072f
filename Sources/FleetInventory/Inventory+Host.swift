extension Inventory.Host {
    /// Where to reach the device: `ansible_host` (else the name), and the first of `fleetcmd_port`, `device_port`
    /// and the port of the host's own entry (`name:port`, which Ansible stores as `ansible_port`), else
    /// `defaultPort`. An `ansible_port` variable set any other way is not used: in inventories shared with Ansible
    /// it is the SSH port. The port is nil when the variable is not a port number.
    public func endpoint(defaultPort: Int) -> (host: String, port: Int?) {
        var host = values["ansible_host"].map(\.text) ?? name
        if host.isEmpty { host = name }
        guard let value = values["fleetcmd_port"] ?? values["device_port"] ?? entryPort.map({ .int($0) }) else {
            return (host, defaultPort)
        }
        // A whole number is the port as it stands (the entry's own, most often); anything else is read from its text.
        let number: Int?
        if case .int(let whole) = value { number = whole } else { number = Int(value.text.stripping(" ")) }
        guard let port = number, (1...65535).contains(port) else { return (host, nil) }
        return (host, port)
    }

    /// The framing preset for this device (`fleetcmd_preset`), if its groups or itself set one.
    public var preset: String? { values["fleetcmd_preset"].map(\.text) }

    /// A stable shard number in `0..<count` from the name (FNV-1a), the same on every machine and run.
    public func shard(of count: Int) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(count))
    }
}
