import FleetFraming

/// One reply from a device, as received.
public struct Reply: Sendable, Hashable {
    /// The reply cut at its terminator (no prefix, header or terminator), not yet trimmed.
    public var payload: [UInt8]
    /// The reply exactly as it came off the wire, terminator included.
    public var frame: [UInt8]
    /// Time from the command being written to the reply being complete.
    public var elapsed: Duration

    public init(payload: [UInt8], frame: [UInt8], elapsed: Duration) {
        self.payload = payload
        self.frame = frame
        self.elapsed = elapsed
    }

    /// The payload with surrounding ASCII whitespace removed, as the seed article's client does.
    public var trimmed: ArraySlice<UInt8> { ByteEscapes.trimmingWhitespace(payload[...]) }

    /// ``trimmed``, rendered as terminal-safe text (non-printable bytes escaped as `\xNN`).
    public var text: String { ByteEscapes.render(trimmed) }
}

/// Everything that happened in one conversation with one device: the replies that arrived, in command order,
/// and the error that ended it early, if any.
public struct Exchange: Sendable {
    /// The device, as `host:port`.
    public var device: String
    /// How many commands were to be sent.
    public var commandCount: Int
    /// The replies that arrived, in command order.
    public var replies: [Reply]
    /// Why the conversation ended before every reply arrived, or `nil` when it completed.
    public var error: DeviceError?
    /// How long the TCP connection took to establish, if it was established.
    public var connectDuration: Duration?
    /// From the start of the connection attempt to the end.
    public var totalDuration: Duration
    /// Bytes the device sent after the last expected reply (reported, never silently dropped).
    public var leftoverBytes: Int

    /// Whether every command got its reply.
    public var isComplete: Bool { error == nil && replies.count == commandCount }
}
