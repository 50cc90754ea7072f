/// Epson ESC/VP.net, the session in front of ESC/VP21 commands on TCP 3629, as the ESC/VP.net protocol
/// specification gives it: every packet starts with a 16-byte header (`ESC/VP.net`, version 0x10, the packet type,
/// two reserved bytes, a status and the number of 18-byte headers that follow); a client opens the session with
/// CONNECT, carrying the projector's password in a Password header when one is set.
public enum EscVpNet {
    public static let signature = Array("ESC/VP.net".utf8)
    public static let version: UInt8 = 0x10

    /// The packet types, by the specification's names.
    public enum PacketType: UInt8, Sendable {
        case null = 0x00
        case hello = 0x01
        case password = 0x02
        case connect = 0x03
    }

    /// The status byte of a reply.
    public enum Status: UInt8, Sendable, CaseIterable {
        case ok = 0x20
        case badRequest = 0x40
        case unauthorized = 0x41
        case forbidden = 0x43
        case requestNotAllowed = 0x45
        case serviceUnavailable = 0x53
        case protocolVersionNotSupported = 0x55

        /// The specification's name and what it means here.
        public var text: String {
            switch self {
            case .ok: "0x20 OK"
            case .badRequest: "0x40 Bad Request: the projector did not understand the request"
            case .unauthorized: "0x41 Unauthorized: the projector needs a password"
            case .forbidden: "0x43 Forbidden: the password is wrong"
            case .requestNotAllowed: "0x45 Request not allowed"
            case .serviceUnavailable: "0x53 Service Unavailable: the projector is busy (another client connected?)"
            case .protocolVersionNotSupported: "0x55 Protocol Version Not Supported"
            }
        }
    }

    /// The identifier of a Password header.
    public static let passwordHeader: UInt8 = 0x01
    /// Bytes of a header: identifier, attribute, 16 bytes of information.
    public static let headerLength = 18
    public static let maxPasswordBytes = 16

    /// A packet: the 16-byte header, then `headers` (each 18 bytes).
    public static func packet(_ type: PacketType, status: UInt8 = 0, headers: [[UInt8]] = []) -> [UInt8] {
        signature + [version, type.rawValue, 0x00, 0x00, status, UInt8(headers.count)] + headers.flatMap { $0 }
    }

    /// The CONNECT request, with a Password header when `password` is given (at most 16 bytes, padded with NUL).
    public static func connect(password: String?) -> [UInt8] {
        guard let password else { return packet(.connect) }
        let bytes = Array(password.utf8.prefix(maxPasswordBytes))
        let header = [passwordHeader, 0x01] + bytes + [UInt8](repeating: 0, count: maxPasswordBytes - bytes.count)
        return packet(.connect, headers: [header])
    }

    /// A packet read from the front of some bytes.
    public struct Packet: Sendable, Equatable {
        public var type: UInt8
        public var status: UInt8
        /// Each header's identifier, attribute and information.
        public var headers: [[UInt8]]
        /// Bytes the packet took.
        public var length: Int

        /// The password of a Password header, without its NUL (or space) padding.
        public var password: String? {
            guard let header = headers.first(where: { $0.first == EscVpNet.passwordHeader }) else { return nil }
            var information = Array(header.dropFirst(2))
            while let last = information.last, last == 0 || last == 0x20 { information.removeLast() }
            return String(decoding: information, as: UTF8.self)
        }
    }

    public enum ParseResult: Sendable, Equatable {
        case needMore
        case packet(Packet)
        /// Not an ESC/VP.net packet (wrong signature or version): the bytes as hex.
        case invalid(String)
    }

    /// Reads one packet from the front of `bytes`.
    public static func parse(_ bytes: some Collection<UInt8>) -> ParseResult {
        let all = Array(bytes.prefix(16 + 255 * headerLength))
        let checked = min(all.count, signature.count + 1)
        guard Array(all.prefix(checked)) == Array((signature + [version]).prefix(checked)) else {
            return .invalid(ByteEscapes.hex(all.prefix(16)))
        }
        guard all.count >= 16 else { return .needMore }
        let count = Int(all[15])
        let length = 16 + count * headerLength
        guard all.count >= length else { return .needMore }
        let headers = (0..<count).map { Array(all[(16 + $0 * headerLength)..<(16 + ($0 + 1) * headerLength)]) }
        return .packet(Packet(type: all[11], status: all[14], headers: headers, length: length))
    }

    /// A reply status as the user reads it: named when the specification names it.
    public static func describe(status: UInt8) -> String {
        Status(rawValue: status)?.text ?? "status 0x\(ByteEscapes.hex([status]))"
    }
}
