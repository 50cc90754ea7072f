public import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which client networks may connect, checked at accept (before any byte is read).
///
/// A client is let in when it matches no `deny` network and, if `allow` is not empty, matches an `allow` network.
/// Deny wins, so `allow: [10.0.0.0/8]` with `deny: [10.0.66.0/24]` keeps one subnet out of a larger one.
public struct AccessList: Sendable, Hashable {
    public var allow: [Network]
    public var deny: [Network]

    public init(allow: [Network] = [], deny: [Network] = []) {
        self.allow = allow
        self.deny = deny
    }

    /// Parses CIDR lists (`10.0.0.0/8`, `192.168.1.7`, `::1/128`).
    public init(allow: [String], deny: [String]) throws {
        self.init(allow: try allow.map(Network.init(parsing:)), deny: try deny.map(Network.init(parsing:)))
    }

    public var isEmpty: Bool { allow.isEmpty && deny.isEmpty }

    /// Whether `address` may connect.
    public func admits(_ address: SocketAddress?) -> Bool {
        guard !isEmpty else { return true }
        guard let bytes = address.flatMap(Network.bytes(of:)) else { return false }
        if deny.contains(where: { $0.contains(bytes) }) { return false }
        return allow.isEmpty || allow.contains { $0.contains(bytes) }
    }

    /// An IPv4 or IPv6 network: an address and a prefix length.
    public struct Network: Sendable, Hashable, CustomStringConvertible {
        let address: [UInt8]
        let prefix: Int

        public init(parsing text: String) throws {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard let first = parts.first, let bytes = Self.parseAddress(first) else {
                throw AccessListError("'\(text)' is not a network (CIDR like 10.0.0.0/8 or an address)")
            }
            let bits = bytes.count * 8
            var prefix = bits
            if parts.count == 2 {
                guard let value = Int(parts[1]), (0...bits).contains(value) else {
                    throw AccessListError("'\(text)' has a bad prefix length (0 to \(bits))")
                }
                prefix = value
            }
            self.address = bytes
            self.prefix = prefix
        }

        func contains(_ bytes: [UInt8]) -> Bool {
            var candidate = bytes
            if address.count == 4, candidate.count == 16, candidate.prefix(12).elementsEqual(Self.mappedPrefix) {
                candidate = Array(candidate.suffix(4))  // ::ffff:a.b.c.d on a dual-stack listener
            }
            guard candidate.count == address.count else { return false }
            var remaining = prefix
            for index in 0..<address.count where remaining > 0 {
                let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
                if candidate[index] & mask != address[index] & mask { return false }
                remaining -= 8
            }
            return true
        }

        private static let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]

        static func parseAddress(_ text: String) -> [UInt8]? {
            var v4 = in_addr()
            if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
            var v6 = in6_addr()
            if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
            return nil
        }

        static func bytes(of address: SocketAddress) -> [UInt8]? {
            address.ipAddress.flatMap(parseAddress)
        }

        public var description: String {
            let text = (try? SocketAddress(packedIPAddress: ByteBuffer(bytes: address), port: 0))?.ipAddress ?? "?"
            return "\(text)/\(prefix)"
        }
    }
}

public struct AccessListError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
