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

    /// When the client shuts down its sending side (TCP FIN) after writing its commands.
    ///
    /// The seed article half-closes after sending, and some devices wait for that FIN before answering. Other
    /// devices drop their reply when they see a FIN. `auto` half-closes when exactly one command is sent (the
    /// article's case) and keeps the connection open for several pipelined commands.
    public struct HalfClosePolicy: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable { case auto, always, never }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        public static let auto = HalfClosePolicy(.auto)
        public static let always = HalfClosePolicy(.always)
        public static let never = HalfClosePolicy(.never)

        /// Parses `auto`, `always` or `never`.
        public init?(name: String) {
            guard let base = Base(rawValue: name.lowercased()) else { return nil }
            self.base = base
        }

        /// Whether to half-close after the last of `commandCount` commands.
        public func halfClosesAfterLast(of commandCount: Int) -> Bool {
            switch base {
            case .auto: return commandCount == 1
            case .always: return true
            case .never: return false
            }
        }

        public var description: String { base.rawValue }
    }
}
