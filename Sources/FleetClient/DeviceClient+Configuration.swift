public import FleetFraming
public import FleetTLS

extension DeviceClient {
    /// How a ``DeviceClient`` frames, times and bounds its conversations.
    public struct Configuration: Sendable {
        /// The request and reply framing. Default: ``FrameFormat/escCR`` (the seed article's).
        public var format: FrameFormat
        /// Connect, reply, total and idle timeouts.
        public var timeouts: Timeouts
        /// Whether the client half-closes its side after sending. Default: ``HalfClosePolicy/auto``.
        public var halfClose: HalfClosePolicy
        /// The largest reply accepted, in bytes. Default: 1 MiB. A larger reply fails with `too-large`.
        public var maxReplyBytes: Int
        /// When set, commands go one at a time (each after the previous reply) and the conversation ends at the
        /// first reply (its payload) for which this returns `true`: later commands are never sent. Default: none
        /// (commands are pipelined when the framing allows).
        public var stopAfterReply: (@Sendable ([UInt8]) -> Bool)? = nil
        /// TLS for every connection, verified as ``ClientTLS`` says; `nil`: plain TCP. Default: none.
        public var tls: ClientTLS? = nil
        /// What happens before the first command: a handshake, a greeting, a login (a device preset's session).
        /// Default: nothing.
        public var session = DevicePreset.Session()
        /// The password for a session login (PJLink). Default: none.
        public var password: String? = nil
        /// Which commands the device answers (a device preset's rule). Default: every command.
        public var replies = DevicePreset.ReplyRule.always

        public init(
            format: FrameFormat = .escCR,
            timeouts: Timeouts = Timeouts(),
            halfClose: HalfClosePolicy = .auto,
            maxReplyBytes: Int = 1 << 20
        ) {
            self.format = format
            self.timeouts = timeouts
            self.halfClose = halfClose
            self.maxReplyBytes = maxReplyBytes
        }

        /// The settings that behave exactly like the seed article's client: esc-cr, half-close, 10 s.
        public static let seedCompatible = Configuration(timeouts: Timeouts(connect: .seconds(10), reply: .seconds(10)))
    }

    /// Time limits for one conversation.
    public struct Timeouts: Sendable, Hashable {
        /// Limit for establishing the TCP connection. Default: 5 s.
        public var connect: Duration
        /// Limit for each reply, counted from the command being written (or the previous reply). Default: 10 s.
        public var reply: Duration
        /// Limit for the whole conversation, connection included. Default: none.
        public var total: Duration?
        /// For replies that end when the device closes (`raw`): the reply is complete after this much silence
        /// once at least one byte arrived. Default: 500 ms.
        public var idle: Duration

        public init(
            connect: Duration = .seconds(5), reply: Duration = .seconds(10), total: Duration? = nil,
            idle: Duration = .milliseconds(500)
        ) {
            self.connect = connect
            self.reply = reply
            self.total = total
            self.idle = idle
        }
    }

    /// When the client half-closes after its commands (one type with the presets' ``DevicePreset/HalfClose``).
    public typealias HalfClosePolicy = DevicePreset.HalfClose
}
