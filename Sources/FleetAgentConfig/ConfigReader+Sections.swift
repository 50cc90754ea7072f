import FleetAgent
import FleetTLS

// The `listen:`, `limits:`, `tls:` and `access:` sections.

extension ConfigReader {
    mutating func listenAddresses(_ node: ConfigNode) -> [DeviceAgent.ListenAddress] {
        guard let items = node.items ?? (node.isScalar ? [node] : nil) else {
            problem(node, "listen must be a list of host:port (or tls://host:port) strings")
            return []
        }
        var result: [DeviceAgent.ListenAddress] = []
        for item in items {
            guard let text = item.string, let address = Self.parseListen(text) else {
                problem(item, "listen entries look like 0.0.0.0:9100, [::]:9100 or tls://0.0.0.0:9443")
                continue
            }
            result.append(address)
        }
        return result
    }

    static func parseListen(_ text: String) -> DeviceAgent.ListenAddress? {
        if text.lowercased().hasPrefix("tls://") {
            guard var address = parseListen(String(text.dropFirst(6))) else { return nil }
            address.tls = true
            return address
        }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (0...65535).contains(port) else { return nil }
            return .init(host: host, port: port)
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon])
        return host.isEmpty ? nil : .init(host: host, port: port)
    }

    static let limitKeys = ConfigKeys<DeviceAgent.Limits>(
        unknown: { "unknown limit '\($0)'" },
        [
            ("max_frame", { r, v, limits in if let size = r.size(v, "max_frame") { limits.maxFrameBytes = size } }),
            (
                "idle_timeout",
                { r, v, limits in if let time = r.duration(v, "idle_timeout") { limits.idleTimeout = time } }
            ),
            (
                "frame_timeout",
                { r, v, limits in if let time = r.duration(v, "frame_timeout") { limits.frameTimeout = time } }
            ),
            (
                "max_connections",
                { r, v, limits in if let count = r.count(v, "max_connections") { limits.maxConnections = count } }
            ),
            (
                "max_connections_per_source",
                { r, v, limits in
                    if let count = r.count(v, "max_connections_per_source") { limits.maxConnectionsPerSource = count }
                }
            ),
            (
                "max_concurrent_execs",
                { r, v, limits in
                    if let count = r.count(v, "max_concurrent_execs") { limits.maxConcurrentExecs = count }
                }
            ),
            ("max_echo", { r, v, limits in if let size = r.size(v, "max_echo") { limits.maxEchoBytes = size } }),
        ])

    mutating func readLimits(_ node: ConfigNode, into limits: inout DeviceAgent.Limits) {
        guard let entries = node.entries else {
            problem(node, "limits must be a mapping")
            return
        }
        Self.limitKeys.read(entries, into: &limits, with: &self)
    }

    /// What `tls:` gathers before it is checked as a whole.
    struct TLSParts {
        var cert: String?
        var key: String?
        var clientCA: String?
        var verification: ServerTLSSettings.ClientVerification?
    }

    static let tlsKeys = ConfigKeys<TLSParts>(
        unknown: { "unknown key '\($0)' in tls" },
        [
            ("cert", { r, v, tls in if let path = r.string(v, "cert") { tls.cert = r.resolve(path) } }),
            ("key", { r, v, tls in if let path = r.string(v, "key") { tls.key = r.resolve(path) } }),
            ("client_ca", { r, v, tls in if let path = r.string(v, "client_ca") { tls.clientCA = r.resolve(path) } }),
            (
                "client_verification",
                { r, v, tls in
                    guard let text = r.string(v, "client_verification") else { return }
                    guard let mode = ServerTLSSettings.ClientVerification(rawValue: text) else {
                        r.problem(v, "client_verification must be none, optional or require")
                        return
                    }
                    tls.verification = mode
                }
            ),
        ])

    mutating func readTLS(_ node: ConfigNode) -> ServerTLSSettings? {
        guard let entries = node.entries else {
            problem(node, "tls must be a mapping with cert and key (and optionally client_ca, client_verification)")
            return nil
        }
        var parts = TLSParts()
        Self.tlsKeys.read(entries, into: &parts, with: &self)
        guard let cert = parts.cert, let key = parts.key else {
            problem(node, "tls needs both cert and key")
            return nil
        }
        if let verification = parts.verification, verification != .none, parts.clientCA == nil {
            problem(node, "client_verification \(verification.rawValue) needs client_ca")
        }
        return ServerTLSSettings(
            certificateFile: cert, keyFile: key, clientCAFile: parts.clientCA, clientVerification: parts.verification)
    }

    func resolve(_ path: String) -> String {
        path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
    }

    static let accessKeys = ConfigKeys<AccessList>(
        unknown: { "unknown key '\($0)' in access" },
        [
            ("allow", { r, v, list in list.allow += r.networks(v, "allow") }),
            ("deny", { r, v, list in list.deny += r.networks(v, "deny") }),
        ])

    mutating func readAccess(_ node: ConfigNode) -> AccessList {
        guard let entries = node.entries else {
            problem(node, "access must be a mapping with allow and/or deny lists of networks")
            return AccessList()
        }
        var list = AccessList()
        Self.accessKeys.read(entries, into: &list, with: &self)
        return list
    }

    private mutating func networks(_ node: ConfigNode, _ name: String) -> [AccessList.Network] {
        guard let items = node.items ?? (node.isScalar ? [node] : nil) else {
            problem(node, "\(name) must be a list of networks like 10.0.0.0/8")
            return []
        }
        var result: [AccessList.Network] = []
        for item in items {
            do {
                result.append(try AccessList.Network(parsing: item.string ?? ""))
            } catch {
                problem(item, "\(error)")
            }
        }
        return result
    }
}
