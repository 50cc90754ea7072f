/// How one direction of a conversation marks where a frame starts and ends.
///
/// A ``FrameFormat`` pairs two of these: one for requests (what a client writes, what an agent reads) and one
/// for replies (what an agent writes, what a client reads). The same value drives encoding and decoding, so
/// both ends of fleetcmd always agree.
///
/// ```
/// delimited(prefix: ESC, terminator: CR)   1b 50 49 4e 47 0d          -> "PING"
/// delimited(terminator: NUL)               50 4f 4e 47 00             -> "PONG"
/// lengthPrefixed(2)                        00 04 50 4f 4e 47          -> "PONG"
/// fixedLength(1)                           12                         -> 0x12
/// untilClose                               50 4f 4e 47 <FIN or idle>  -> "PONG"
/// ```
public struct FrameSpec: Sendable, Hashable, CustomStringConvertible {
    @usableFromInline
    enum Kind: Sendable, Hashable {
        /// Optional prefix, payload, then a non-empty terminator. Bytes before the prefix are not part of any frame.
        case delimited(prefix: [UInt8], terminator: [UInt8])
        /// A big-endian unsigned length of `width` bytes, then that many payload bytes.
        case lengthPrefixed(width: Int)
        /// Exactly `count` bytes.
        case fixed(count: Int)
        /// Optional prefix, then everything until the peer closes (or, for a client, goes idle).
        case untilClose(prefix: [UInt8])
        /// As `delimited`, but the frame ends at the `count`-th terminator (a Zebra `~HS` reply is three blocks).
        /// Boxed (`indirect`) so that the enum, and every ``FrameSpec``, keeps the size of two arrays.
        indirect case delimitedRepeatedly(prefix: [UInt8], terminator: [UInt8], count: Int)
        /// Extron SIS commands (``sisCommand``): ESC … CR, or a basic command ending at its command character.
        case sisCommand
    }

    @usableFromInline
    let kind: Kind

    init(kind: Kind) { self.kind = kind }

    /// For delimited frames: how many terminators end one frame (a Zebra `~HS` reply is three `ETX CR LF`
    /// blocks); the earlier ones are part of the payload.
    public var terminatorCount: Int {
        if case .delimitedRepeatedly(_, _, let count) = kind { return count }
        return 1
    }

    /// Frames that end with `terminator` (its `count`-th occurrence), optionally introduced by `prefix`.
    ///
    /// An empty terminator means the frame runs until the connection closes (see ``untilClose``).
    public static func delimited(prefix: [UInt8] = [], terminator: [UInt8], count: Int = 1) -> FrameSpec {
        precondition(count >= 1, "a frame ends at one terminator or more")
        return terminator.isEmpty
            ? FrameSpec(kind: .untilClose(prefix: prefix))
            : FrameSpec(
                kind: count == 1
                    ? .delimited(prefix: prefix, terminator: terminator)
                    : .delimitedRepeatedly(prefix: prefix, terminator: terminator, count: count))
    }

    /// Whether `payload` can be framed without a reader seeing its end early: a delimited payload may hold at
    /// most `terminatorCount - 1` terminators.
    public func canFrame(_ payload: [UInt8]) -> Bool {
        guard let terminator, !terminator.isEmpty, payload.count >= terminator.count else { return true }
        var found = 0
        var index = 0
        while index + terminator.count <= payload.count {
            if payload[index] == terminator[0], payload[index..<(index + terminator.count)].elementsEqual(terminator) {
                found += 1
                if found >= terminatorCount { return false }
                index += terminator.count
            } else {
                index += 1
            }
        }
        return true
    }

    /// Frames preceded by a big-endian length field of `width` bytes (2 or 4).
    public static func lengthPrefixed(width: Int) -> FrameSpec {
        precondition(width == 2 || width == 4, "length prefix width must be 2 or 4")
        return FrameSpec(kind: .lengthPrefixed(width: width))
    }

    /// Frames of exactly `count` bytes (for example a one-byte ESC/POS status).
    public static func fixedLength(_ count: Int) -> FrameSpec {
        precondition(count > 0, "a fixed frame has at least one byte")
        return FrameSpec(kind: .fixed(count: count))
    }

    /// One frame that ends when the peer closes the connection; nothing is added when encoding.
    public static let untilClose = FrameSpec(kind: .untilClose(prefix: []))

    /// Extron SIS commands, as the SIS programmer's guides write them: a *basic* command is its parameters
    /// (digits, `*`, `+`, `-`, `.`) and one command character, sent as it is (`Q`, `N`, `1!`, `1*2&`, `+V`); an
    /// *Esc* command starts with ESC and ends with CR (`ESC CN CR`). Encoding adds the CR to a payload that
    /// starts with ESC and nothing to a basic one; decoding (for a listener or the simulator) finds either kind,
    /// and skips CR, LF and spaces between commands. The payload keeps the ESC of an Esc command.
    public static let sisCommand = FrameSpec(kind: .sisCommand)

    /// The bytes written before each payload (empty unless delimited or until-close with a prefix).
    public var prefix: [UInt8] {
        switch kind {
        case .delimited(let prefix, _), .untilClose(let prefix), .delimitedRepeatedly(let prefix, _, _): return prefix
        case .lengthPrefixed, .fixed, .sisCommand: return []
        }
    }

    /// The terminator of a delimited frame, or `nil` for the other kinds.
    public var terminator: [UInt8]? {
        switch kind {
        case .delimited(_, let terminator), .delimitedRepeatedly(_, let terminator, _): return terminator
        default: return nil
        }
    }

    /// Whether a frame of this kind can only end when the peer closes the connection (or goes quiet).
    public var endsAtClose: Bool {
        if case .untilClose = kind { return true }
        return false
    }

    /// Whether the frame's end is determined by the bytes alone (a terminator, a length, a count).
    public var isSelfDelimiting: Bool { !endsAtClose }

    /// Appends `payload` framed by this spec to `out`.
    ///
    /// - Throws: ``FramingError`` when a length-prefixed payload does not fit its length field, or a fixed-length
    ///   payload has the wrong size.
    ///
    /// Inlinable, so that a caller in another module (every client's command) gets it specialized for its
    /// payload's type: unspecialized, `append(contentsOf:)` asked the runtime for the payload's associated types,
    /// which the first time is a scan of every protocol conformance in the binary (a twelfth of a one-shot `send`).
    @inlinable
    public func encode(_ payload: some Collection<UInt8>, into out: inout [UInt8]) throws(FramingError) {
        try writeHeader(payloadCount: payload.count) { out.append(contentsOf: $0) }
        out.append(contentsOf: payload)
        if let terminator = terminator(afterFirstByte: payload.first) { out.append(contentsOf: terminator) }
    }

    /// The bytes written after `payload`: the ``terminator``, or for SIS commands a CR after an Esc command.
    @inlinable
    public func terminator(after payload: some Collection<UInt8>) -> [UInt8]? {
        terminator(afterFirstByte: payload.first)
    }

    /// The bytes written after a payload that begins with `first` (`nil`: an empty one): ``terminator(after:)``.
    public func terminator(afterFirstByte first: UInt8?) -> [UInt8]? {
        if case .sisCommand = kind { return first == 0x1B ? [0x0D] : nil }
        return terminator
    }

    /// Convenience: the framed bytes for `payload`.
    @inlinable
    public func encode(_ payload: some Collection<UInt8>) throws(FramingError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(payload.count + 8)
        try encode(payload, into: &out)
        return out
    }

    /// Hands the bytes that precede a payload of `payloadCount` bytes to `write`; the terminator (if any) is
    /// ``terminator``. Lets byte-buffer based encoders frame without an intermediate array.
    public func writeHeader(payloadCount: Int, _ write: ([UInt8]) -> Void) throws(FramingError) {
        switch kind {
        case .delimited(let prefix, _), .untilClose(let prefix), .delimitedRepeatedly(let prefix, _, _):
            if !prefix.isEmpty { write(prefix) }
        case .lengthPrefixed(let width):
            let limit = width == 2 ? Int(UInt16.max) : Int(UInt32.max)
            guard payloadCount <= limit else {
                throw FramingError(.payloadTooLargeForLength, byteCount: payloadCount, limit: limit)
            }
            var header: [UInt8] = []
            for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
                header.append(UInt8(truncatingIfNeeded: payloadCount >> shift))
            }
            write(header)
        case .fixed(let count):
            guard payloadCount == count else {
                throw FramingError(.wrongFixedLength, byteCount: payloadCount, limit: count)
            }
        case .sisCommand:
            break
        }
    }

    /// A short human name for the end of a frame, used in messages: `NUL`, `CR`, `CR LF`, `"\x03"`,
    /// `length prefix`, `1 byte`, `close`.
    public var endDescription: String {
        switch kind {
        case .delimited(_, let terminator), .delimitedRepeatedly(_, let terminator, _):
            return terminatorCount > 1
                ? "\(terminatorCount)× \(Self.describeBytes(terminator))" : Self.describeBytes(terminator)
        case .lengthPrefixed(let width): return "\(width)-byte length prefix"
        case .fixed(let count): return count == 1 ? "1 byte" : "\(count) bytes"
        case .untilClose: return "close"
        case .sisCommand: return "its command character, or CR after ESC"
        }
    }

    public var description: String {
        switch kind {
        case .delimited(let prefix, _), .delimitedRepeatedly(let prefix, _, _):
            return prefix.isEmpty
                ? "until \(endDescription)"
                : "\(Self.describeBytes(prefix)) … \(endDescription)"
        case .lengthPrefixed(let width): return "length\(width * 8)"
        case .fixed(let count): return "fixed:\(count)"
        case .untilClose(let prefix): return prefix.isEmpty ? "until close" : "\(Self.describeBytes(prefix)) … close"
        case .sisCommand: return "SIS command (plain, or ESC … CR)"
        }
    }

    /// Bytes by their control names (`CR LF`, `ESC`) when they all have one, else as escaped text.
    public static func describeBytes(_ bytes: [UInt8]) -> String {
        let names: [UInt8: String] = [
            0x00: "NUL", 0x02: "STX", 0x03: "ETX", 0x0A: "LF", 0x0C: "FF", 0x0D: "CR", 0x1B: "ESC",
        ]
        // checked just above
        if bytes.allSatisfy({ names[$0] != nil }) { return bytes.map { names[$0]! }.joined(separator: " ") }
        return "\"" + ByteEscapes.render(bytes) + "\""
    }
}
