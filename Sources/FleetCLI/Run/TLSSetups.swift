import FleetInventory
import FleetTLS
import Foundation

/// One ``ClientTLS`` per distinct TLS setting of a run (usually one per inventory group), so that files are read
/// and contexts built once, not per device.
final class TLSSetups {
    private var made: [ClientTLSSettings: ClientTLS] = [:]
    private var warned = false
    /// The run's flags, read once (not per device).
    private let baseSettings: ClientTLSSettings
    private let baseEnabled: Bool

    init(base: TLSOptions) {
        baseSettings = base.settings
        baseEnabled = base.isEnabled
    }

    /// The TLS for `host`: the run's flags, overridden by the host's `fleetcmd_tls*` variables; `nil` for none.
    func setup(for host: Inventory.Host) throws -> ClientTLS? {
        guard
            host.values.keys.contains(where: {
                $0.hasPrefix("fleetcmd_tls") || $0.hasPrefix("fleetcmd_ca")
                    || $0 == "fleetcmd_servername" || $0 == "fleetcmd_pin" || $0 == "fleetcmd_cert"
                    || $0 == "fleetcmd_key"
            })
        else {
            return try made(baseSettings, enabled: baseEnabled)
        }
        let variables = host.variables
        var settings = baseSettings
        var enabled = baseEnabled
        if let value = variables["fleetcmd_tls"] {
            guard let flag = Self.bool(value) else { throw TLSSetupError("fleetcmd_tls must be true or false") }
            enabled = flag
        }
        if let value = variables["fleetcmd_ca_file"] { settings.caFile = value }
        if let value = variables["fleetcmd_servername"] { settings.serverName = value }
        if let value = variables["fleetcmd_pin"] {
            settings.pins = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let value = variables["fleetcmd_cert"] { settings.certificateFile = value }
        if let value = variables["fleetcmd_key"] { settings.keyFile = value }
        if let value = variables["fleetcmd_tls_insecure"] {
            guard let flag = Self.bool(value) else {
                throw TLSSetupError("fleetcmd_tls_insecure must be true or false")
            }
            settings.insecure = flag
        }
        if variables["fleetcmd_tls"] == nil,
            ["fleetcmd_ca_file", "fleetcmd_servername", "fleetcmd_pin", "fleetcmd_cert"].contains(where: {
                variables[$0] != nil
            })
        {
            enabled = true
        }
        return try made(settings, enabled: enabled)
    }

    private func made(_ settings: ClientTLSSettings, enabled: Bool) throws -> ClientTLS? {
        guard enabled else { return nil }
        if let tls = made[settings] { return tls }
        if settings.insecure, !warned {
            warned = true
            Console.error(
                "warning: TLS certificates are not checked for some devices (--insecure or fleetcmd_tls_insecure); "
                    + "anyone on the path can impersonate them")
        }
        let tls = try ClientTLS(settings)
        made[settings] = tls
        return tls
    }

    private static func bool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: return nil
        }
    }
}
