import FleetFraming

/// Where each device of a simulated fleet lives and what it is called: device `n` (1-based) is named
/// `dev` + `n` zero-padded to the fleet's width (`dev0001` … `dev1000`).
public struct FleetLayout: Sendable, Hashable {
    /// How devices are told apart.
    public enum Addressing: Sendable, Hashable {
        /// Device `n` at the `n`-th address of an IPv4 block (`127.1.0.0/16`: `127.1.0.1`, `127.1.0.2`, …),
        /// all on one port, as real devices that each have their own address.
        case addresses(network: UInt32, prefix: Int, port: Int)
        /// Device `n` on one host at port `basePort + n - 1`.
        case ports(host: String, basePort: Int)
    }

    public let count: Int
    public let addressing: Addressing
    let width: Int

    /// - Throws: ``SimulatorError`` when the block or port range cannot hold `count` devices.
    public init(count: Int, addressing: Addressing) throws(SimulatorError) {
        guard count >= 1 else { throw SimulatorError("--devices must be at least 1") }
        switch addressing {
        case .addresses(_, let prefix, let port):
            let capacity = prefix >= 31 ? 0 : (1 << (32 - prefix)) - 2
            guard count <= capacity else {
                throw SimulatorError(
                    "the address block /\(prefix) holds \(capacity) devices, not \(count); use a shorter prefix")
            }
            guard (1...65535).contains(port) else { throw SimulatorError("--port must be from 1 to 65535") }
        case .ports(_, let basePort):
            guard basePort >= 1, basePort + count - 1 <= 65535 else {
                throw SimulatorError("ports \(basePort)-\(basePort + count - 1) do not fit in 1-65535")
            }
        }
        self.count = count
        self.addressing = addressing
        self.width = max(3, String(count).count)
    }

    /// Parses `127.1.0.0/16`.
    public static func block(_ text: String) throws(SimulatorError) -> (network: UInt32, prefix: Int) {
        let parts = text.split(separator: "/", maxSplits: 1)
        let octets =
            parts.first.map { $0.split(separator: ".", omittingEmptySubsequences: false).map { UInt32($0) } } ?? []
        guard parts.count == 2, let prefix = Int(parts[1]), (8...30).contains(prefix), octets.count == 4,
            octets.allSatisfy({ ($0 ?? 256) < 256 })
        else {
            throw SimulatorError("--addresses \(text): expected an IPv4 block such as 127.1.0.0/16 (prefix 8 to 30)")
        }
        let address = octets.reduce(UInt32(0)) { ($0 << 8) | $1! }  // checked above
        let mask: UInt32 = prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix)
        return (address & mask, prefix)
    }

    /// The name of device `number` (1-based).
    public func name(_ number: Int) -> String {
        let digits = String(number)
        return "dev" + String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The host and port of device `number` (1-based).
    public func endpoint(_ number: Int) -> (host: String, port: Int) {
        switch addressing {
        case .addresses(let network, _, let port):
            let address = network + UInt32(number)
            return ("\(address >> 24).\((address >> 16) & 255).\((address >> 8) & 255).\(address & 255)", port)
        case .ports(let host, let basePort):
            return (host, basePort + number - 1)
        }
    }

    /// `host:port` of device `number`.
    public func address(_ number: Int) -> String {
        let (host, port) = endpoint(number)
        return HostPort.text(host, port)
    }

    /// The fleet as an inventory: `yaml`/`yml` (Ansible YAML), `ini` (Ansible INI), anything else a plain
    /// `host:port` list, one device per line.
    /// - Parameter variables: group variables for every device (`fleetcmd_preset`), in order.
    public func inventory(format: String, variables: [(String, String)] = []) -> String {
        var out = ""
        out.reserveCapacity(count * 48)
        switch format {
        case "yaml", "yml":
            out +=
                "# A simulated fleet of \(count) devices (fleetcmd simulate).\nall:\n  children:\n    simulated:\n      hosts:\n"
            for number in 1...count {
                let (host, port) = endpoint(number)
                out += "        \(name(number)): {ansible_host: \"\(host)\", fleetcmd_port: \(port)}\n"
            }
            if !variables.isEmpty {
                out += "      vars:\n"
                for (name, value) in variables { out += "        \(name): \"\(value)\"\n" }
            }
        case "ini":
            out += "# A simulated fleet of \(count) devices (fleetcmd simulate).\n[simulated]\n"
            for number in 1...count {
                let (host, port) = endpoint(number)
                out += "\(name(number)) ansible_host=\(host) fleetcmd_port=\(port)\n"
            }
            if !variables.isEmpty {
                out += "\n[simulated:vars]\n"
                for (name, value) in variables { out += "\(name)=\(value)\n" }
            }
        default:
            for number in 1...count { out += address(number) + "\n" }
        }
        return out
    }
}
