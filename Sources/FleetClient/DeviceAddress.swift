import FleetFraming

/// Where a device listens: a host (name, IPv4 or IPv6 literal) and a TCP port.
///
/// Parses `host`, `host:port`, `[v6]:port` and bare IPv6 literals (`::1`).
public struct DeviceAddress: Sendable, Hashable, CustomStringConvertible {
    /// The port the seed article's devices use.
    public static let defaultPort = 9100

    public var host: String
    public var port: Int

    public init(host: String, port: Int = DeviceAddress.defaultPort) {
        self.host = host
        self.port = port
    }

    /// Parses `text`, using `defaultPort` when none is given.
    /// - Throws: ``DeviceAddress/ParseError`` for an empty host or a port outside 0...65535.
    public init(parsing text: String, defaultPort: Int = DeviceAddress.defaultPort) throws(ParseError) {
        var host = Substring(text)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw ParseError(text: text, reason: "missing ']'") }
            let rest = host[host.index(after: close)...]
            host = host[host.index(after: host.startIndex)..<close]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let parsed = Int(rest.dropFirst()) else {
                    throw ParseError(text: text, reason: "bad port")
                }
                port = parsed
            }
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            guard let parsed = Int(host[host.index(after: colon)...]) else {
                throw ParseError(text: text, reason: "bad port")
            }
            port = parsed
            host = host[..<colon]
        }
        guard !host.isEmpty else { throw ParseError(text: text, reason: "empty host") }
        guard (0...65535).contains(port) else {
            throw ParseError(text: text, reason: "port \(port) is outside 0-65535")
        }
        self.host = String(host)
        self.port = port
    }

    /// `host:port`, with IPv6 literals in brackets (`[::1]:9100`).
    public var description: String { HostPort.text(host, port) }

    /// A device address that could not be parsed.
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var text: String
        public var reason: String
        public var description: String { "invalid device address '\(text)': \(reason)" }
    }
}
