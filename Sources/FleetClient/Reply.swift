import FleetFraming

/// One reply from a device, as received.
public struct Reply: Sendable, Hashable {
    /// The reply cut at its terminator (no prefix, header or terminator), not yet trimmed.
    public var payload: [UInt8]
    /// The reply exactly as it came off the wire, terminator included.
    public var frame: [UInt8]
    /// Time from the command being written to the reply being complete.
    public var elapsed: Duration
    /// The device answers this command with nothing (its preset's ``DevicePreset/ReplyRule``): the command was
    /// written and no reply was read for it; `payload` and `frame` are empty.
    public var isAbsent: Bool

    public init(payload: [UInt8], frame: [UInt8], elapsed: Duration) {
        self.payload = payload
        self.frame = frame
        self.elapsed = elapsed
        self.isAbsent = false
    }

    /// The place of a reply for a command that gets none.
    public static let absent: Reply = {
        var reply = Reply(payload: [], frame: [], elapsed: .zero)
        reply.isAbsent = true
        return reply
    }()

    /// How text output and `run`'s grouping show a command that gets no reply.
    public static let absentText = "(no reply expected)"

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
    /// What the device greeted with (every greeting frame, as received), for `-v`; empty when it did not.
    public var greeting: [[UInt8]]

    public init(
        device: String, commandCount: Int, replies: [Reply], error: DeviceError?, connectDuration: Duration?,
        totalDuration: Duration, leftoverBytes: Int, greeting: [[UInt8]] = []
    ) {
        self.device = device
        self.commandCount = commandCount
        self.replies = replies
        self.error = error
        self.connectDuration = connectDuration
        self.totalDuration = totalDuration
        self.leftoverBytes = leftoverBytes
        self.greeting = greeting
    }

    /// Whether every command got its reply.
    public var isComplete: Bool { error == nil && replies.count == commandCount }
}
