import FleetFraming
public import NIOCore

/// A socket address as messages and logs write it: `10.0.0.7:41000`, `[::1]:41000` (``HostPort``); a Unix
/// socket's path as NIO describes it.
public enum SocketAddressText {
    /// A peer as the audit line and logs name it: `10.0.0.7:41000`, `[::1]:41000`.
    public static func describe(_ address: SocketAddress) -> String {
        if case .v4(let v4) = address {
            // Every connection's peer is named once: its digits written straight, without `inet_ntop`, a string
            // made and searched for a colon, and interpolation (2% of a connection's CPU in the agent).
            // `sockaddr_in`: the port at bytes 2-3 and the address at bytes 4-7, in network order, on every system.
            let (octets, port) = withUnsafeBytes(of: v4.address) { raw in
                ([raw[4], raw[5], raw[6], raw[7]], Int(raw[2]) << 8 | Int(raw[3]))
            }
            var text: [UInt8] = []
            text.reserveCapacity(21)
            for (position, octet) in octets.enumerated() {
                appendDecimal(Int(octet), to: &text)
                text.append(position == 3 ? UInt8(ascii: ":") : UInt8(ascii: "."))
            }
            appendDecimal(port, to: &text)
            return String(decoding: text, as: UTF8.self)
        }
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return HostPort.text(ip, port)
    }

    /// Why a name lookup failed, in the resolver's words (`name or service not known`) rather than NIO's
    /// `SocketAddressError.UnknownHost: … (error -2) for host …`; `nil` when `error` is not a failed lookup.
    public static func resolverReason(_ error: any Error) -> String? {
        guard let error = error as? SocketAddressError.UnknownHost else { return nil }
        guard let first = error.errorDescription.first else { return "the name did not resolve" }
        return first.lowercased() + error.errorDescription.dropFirst()
    }

    /// A failed name lookup as messages say it: `cannot resolve host 'printer-7': name or service not known`; `nil`
    /// when `error` is not one.
    public static func resolutionFailure(_ error: any Error) -> String? {
        guard let reason = resolverReason(error), let error = error as? SocketAddressError.UnknownHost else {
            return nil
        }
        return "cannot resolve host '\(error.host)': \(reason)"
    }

    private static func appendDecimal(_ value: Int, to text: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &text) }
        text.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
