/// A request framing paired with a reply framing: everything fleetcmd needs to talk to one kind of device.
///
/// Select a built-in preset by name (``preset(named:)``), then optionally adjust it with ``customized(prefix:suffix:replyEnd:)``.
///
/// | preset      | request written            | reply ends at                 |
/// |-------------|----------------------------|-------------------------------|
/// | `esc-cr`    | ESC + command + CR         | NUL (the seed article)        |
/// | `line`      | command + LF               | LF (a CR before it is stripped)|
/// | `crlf`      | command + CR LF            | LF (so CR LF, or a bare LF)   |
/// | `cr`        | command + CR               | CR                            |
/// | `raw`       | command                    | close, or the reply going idle|
/// | `length16`  | 2-byte big-endian length   | 2-byte big-endian length      |
/// | `length32`  | 4-byte big-endian length   | 4-byte big-endian length      |
/// | `fixed:N`   | command                    | after exactly N bytes         |
public struct FrameFormat: Sendable, Hashable, CustomStringConvertible {
    /// The preset name this format came from, with `+custom` when it was adjusted.
    public var name: String
    /// How requests (commands) are framed.
    public var request: FrameSpec
    /// How replies are framed.
    public var reply: FrameSpec

    public init(name: String, request: FrameSpec, reply: FrameSpec) {
        self.name = name
        self.request = request
        self.reply = reply
    }

    public var description: String { "\(name) (request \(request), reply \(reply))" }

    /// The seed article's framing: ESC + command + CR, replies end at NUL.
    public static let escCR = FrameFormat(
        name: "esc-cr", request: .delimited(prefix: [0x1B], terminator: [0x0D]), reply: .delimited(terminator: [0x00]))
    /// Newline-terminated lines both ways.
    public static let line = FrameFormat(
        name: "line", request: .delimited(terminator: [0x0A]), reply: .delimited(terminator: [0x0A]))
    /// CR LF requests; replies end at LF, so CR LF and bare LF both work (the CR is stripped as whitespace).
    public static let crlf = FrameFormat(
        name: "crlf", request: .delimited(terminator: [0x0D, 0x0A]), reply: .delimited(terminator: [0x0A]))
    /// CR-terminated both ways.
    public static let cr = FrameFormat(
        name: "cr", request: .delimited(terminator: [0x0D]), reply: .delimited(terminator: [0x0D]))
    /// Nothing added; a reply is everything until the peer closes or goes idle.
    public static let raw = FrameFormat(name: "raw", request: .untilClose, reply: .untilClose)
    /// 2-byte big-endian length prefix both ways.
    public static let length16 = FrameFormat(
        name: "length16", request: .lengthPrefixed(width: 2), reply: .lengthPrefixed(width: 2))
    /// 4-byte big-endian length prefix both ways.
    public static let length32 = FrameFormat(
        name: "length32", request: .lengthPrefixed(width: 4), reply: .lengthPrefixed(width: 4))
    /// Raw requests; the reply is exactly `count` bytes.
    public static func fixed(_ count: Int) -> FrameFormat {
        FrameFormat(name: "fixed:\(count)", request: .untilClose, reply: .fixedLength(count))
    }

    /// The names ``preset(named:)`` accepts (`fixed:N` stands for any positive N).
    public static let presetNames = ["esc-cr", "line", "crlf", "cr", "raw", "length16", "length32", "fixed:N"]

    /// Looks up a built-in preset.
    ///
    /// - Throws: ``FramingError`` with code `unknownPreset` for an unknown name or a bad `fixed:N`.
    public static func preset(named name: String) throws(FramingError) -> FrameFormat {
        switch name.lowercased() {
        case "esc-cr", "esccr", "default": return .escCR
        case "line", "lf": return .line
        case "crlf": return .crlf
        case "cr": return .cr
        case "raw": return .raw
        case "length16": return .length16
        case "length32": return .length32
        case let other where other.hasPrefix("fixed:"):
            guard let count = Int(other.dropFirst("fixed:".count)), count > 0, count <= 1 << 20 else {
                throw FramingError(.unknownPreset, detail: "'\(name)': fixed:N needs a byte count from 1 to 1048576")
            }
            return .fixed(count)
        case let other:
            // A device family's framing (``DevicePreset/builtins``).
            if let device = DevicePreset.builtins.first(where: { $0.name == other }) { return device.format }
            let known = DevicePreset.builtins.map(\.name) + ["fixed:N"]
            throw FramingError(.unknownPreset, detail: "'\(name)' (known: \(known.joined(separator: ", ")))")
        }
    }

    /// A copy with custom delimiters.
    ///
    /// - Parameters:
    ///   - prefix: bytes written before each command; makes the request framing delimited.
    ///   - suffix: bytes written after each command; makes the request framing delimited (empty: nothing added).
    ///   - replyEnd: the bytes that end a reply; makes the reply framing delimited (empty: until close).
    public func customized(prefix: [UInt8]? = nil, suffix: [UInt8]? = nil, replyEnd: [UInt8]? = nil) -> FrameFormat {
        guard prefix != nil || suffix != nil || replyEnd != nil else { return self }
        var copy = self
        if prefix != nil || suffix != nil {
            copy.request = .delimited(prefix: prefix ?? request.prefix, terminator: suffix ?? request.terminator ?? [])
        }
        if let replyEnd { copy.reply = .delimited(terminator: replyEnd) }
        copy.name = name + "+custom"
        return copy
    }
}
