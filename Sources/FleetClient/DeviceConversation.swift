import FleetCodec
import FleetFraming
public import NIOCore

/// One conversation with one device, free of I/O: every rule of talking to a device lives here, and the three
/// transports (``ExchangeHandler`` for `send`/`probe`/`run`, ``DeviceConnection`` for `shell`, and the runner's
/// epoll path) only move bytes and timers for it.
///
/// It owns the framing state, the order of writes and the half-close (never before a TLS handshake finished), the
/// device's session (handshake, greeting, PJLink login), every deadline as a value (the caller passes the time, so
/// tests inject it), reply counting and the size limit, and the classification of every failure into a
/// ``DeviceError`` with its text. The caller feeds it events and carries out the ``Output`` each one returns:
///
/// ```swift
/// var conversation = DeviceConversation(commands: [Array("STATUS".utf8)], configuration: .init(), device: "d:9100", startedAt: .now)
/// var output = conversation.connected(now: .now)   // output.write == ESC STATUS CR, output.halfClose == true
/// output = conversation.received(ByteBuffer(string: "READY\0"), now: .now)
/// // output.finished?.replies[0].text == "READY"; output.close == true
/// ```
///
/// Two modes: a *one-shot* conversation knows its commands up front (pipelined when the reply framing delimits
/// itself and no stop rule is set, else one after another) and ends with an ``Exchange``; an *interactive* one
/// (`shell`) gets one command at a time through ``send(_:now:)`` and reports each reply as a ``Notice``.
public struct DeviceConversation {
    public typealias Instant = ContinuousClock.Instant

    /// What the caller must do after an event, in this order: write `write` (then shut down the sending side if
    /// `halfClose`), report `notice` (interactive) and, with `close`, close the connection (a one-shot
    /// conversation's result is in `finished`).
    public struct Output {
        public var write: [UInt8] = []
        public var halfClose = false
        public var notice: Notice?
        public var close = false
        public var finished: Exchange?
        /// Interactive: frames the device sent while no command was waiting (events it pushes unasked), in order.
        public var unsolicited: [Reply] = []

        public init() {}
    }

    /// What an interactive conversation tells its caller.
    public enum Notice {
        /// The session is open: commands may be sent.
        case opened
        /// The session could not be opened (the connection is closed).
        case openFailed(DeviceError)
        /// The reply to the command sent.
        case reply(Reply)
        /// The command sent got no reply (the connection may still be open: see ``DeviceConversation/isClosed``).
        case replyFailed(DeviceError)
        /// The connection ended while no command was waiting (the device closed an idle session).
        case closed(DeviceError)
    }

    let configuration: DeviceClient.Configuration
    let device: String
    let startedAt: Instant
    /// One-shot: which commands are written and which reply is awaited. `nil`: interactive.
    var machine: ExchangeStateMachine?
    /// Interactive: when the command waiting for its reply was written.
    var pendingSince: Instant?
    /// Interactive: how many replies arrived so far.
    var interactiveReplies = 0
    /// Interactive: how many commands were written so far.
    var interactiveSent = 0
    let commands: [[UInt8]]
    var opener: SessionOpener
    var scanner: FrameScanner
    /// Bytes received and not yet consumed (session bytes, a reply in progress).
    var received: ByteBuffer?
    var replies: [Reply] = []
    var writtenAt: [Instant]
    /// One-shot: how many commands have been written.
    var writtenCount = 0
    var connectedAt: Instant?
    /// Bytes put before the first command (a PJLink login digest).
    var firstCommandPrefix: [UInt8] = []
    var checkedForTLS = false
    /// Set once the conversation can carry nothing more; interactive: why.
    var closedError: DeviceError? { didSet { isClosed = isFinished || closedError != nil } }
    var isFinished = false { didSet { isClosed = isFinished || closedError != nil } }

    // Deadlines, as values; ``nextDeadline`` is the one to wake up for.
    var connectDeadline: Instant?
    var replyDeadline: Instant?
    var idleDeadline: Instant?
    /// The end of a greeting that may go on (``DevicePreset/Session/greetingQuiet``).
    var greetingDeadline: Instant?
    let totalDeadline: Instant?

    /// A one-shot conversation: `commands` (unframed payloads, at least one) in order.
    public init(commands: [[UInt8]], configuration: DeviceClient.Configuration, device: String, startedAt: Instant) {
        self.init(
            machine: ExchangeStateMachine(
                expectsReply: configuration.replies.isAlways
                    ? Array(repeating: true, count: commands.count)
                    : commands.map(configuration.replies.expectsReply),
                isPipelined: configuration.format.reply.isSelfDelimiting && configuration.stopAfterReply == nil,
                halfCloseAfterLast: configuration.halfClose.halfClosesAfterLast(of: commands.count)),
            commands: commands, configuration: configuration, device: device, startedAt: startedAt)
    }

    /// An interactive conversation: commands come one at a time through ``send(_:now:)``.
    public init(interactiveWith configuration: DeviceClient.Configuration, device: String, startedAt: Instant) {
        self.init(
            machine: nil, commands: [], configuration: configuration,
            device: device, startedAt: startedAt)
    }

    private init(
        machine: ExchangeStateMachine?, commands: [[UInt8]], configuration: DeviceClient.Configuration, device: String,
        startedAt: Instant
    ) {
        self.machine = machine
        self.commands = commands
        self.configuration = configuration
        self.device = device
        self.startedAt = startedAt
        self.opener = SessionOpener(session: configuration.session, password: configuration.password)
        self.scanner = FrameScanner(spec: configuration.format.reply, maxFrameBytes: configuration.maxReplyBytes)
        self.writtenAt = Array(repeating: startedAt, count: commands.count)
        self.totalDeadline = configuration.timeouts.total.map { startedAt + $0 }
    }

    /// The earliest deadline still armed: call ``deadlinePassed(now:)`` once it is reached.
    public var nextDeadline: Instant? {
        // Asked after every event on every connection: no array.
        func earlier(_ a: Instant?, _ b: Instant?) -> Instant? {
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        return earlier(
            earlier(earlier(connectDeadline, replyDeadline), earlier(idleDeadline, isClosed ? nil : totalDeadline)),
            greetingDeadline)
    }

    /// Whether nothing more can happen on this conversation (finished, or an interactive connection closed).
    /// Kept as both of its causes change, not computed: asked before every event, and a computed property of this
    /// struct (whose layout holds the standard library's resilient `ContinuousClock.Instant`) was read from a copy
    /// of the whole conversation.
    public private(set) var isClosed = false

    var isInteractive: Bool { machine == nil }

    // MARK: - Events

    /// The caller starts connecting and leaves the connect deadline to the conversation (the epoll path; NIO's
    /// bootstrap has its own).
    public mutating func connecting(now: Instant) {
        let timeouts = configuration.timeouts
        connectDeadline = startedAt + min(timeouts.connect, timeouts.total ?? timeouts.connect)
    }

    /// TCP is up. Without TLS the session starts now; with TLS, at ``tlsEstablished(now:)``, so that no byte (and no
    /// half-close) overtakes the handshake.
    public mutating func connected(now: Instant) -> Output {
        connectDeadline = nil
        connectedAt = now
        var output = Output()
        if configuration.tls == nil { openSession(now: now, &output) }
        return output
    }

    /// The TLS handshake completed.
    public mutating func tlsEstablished(now: Instant) -> Output {
        var output = Output()
        openSession(now: now, &output)
        return output
    }

    /// Bytes arrived.
    public mutating func received(_ chunk: ByteBuffer, now: Instant) -> Output {
        guard !isClosed else { return Output() }
        if received == nil {
            received = chunk
        } else {
            var chunk = chunk
            received!.writeBuffer(&chunk)  // non-nil: checked above
        }
        return afterReceiving(now: now)
    }

    /// Bytes arrived, from a plain buffer (the epoll path).
    public mutating func received(_ bytes: UnsafeRawBufferPointer, now: Instant) -> Output {
        guard !isClosed else { return Output() }
        if received == nil {
            received = ByteBuffer(bytes: bytes)
        } else {
            received!.writeBytes(bytes)  // non-nil: checked above
        }
        return afterReceiving(now: now)
    }

    private mutating func afterReceiving(now: Instant) -> Output {
        var output = Output()
        if !checkedForTLS, let bytes = received, bytes.readableBytes >= 3 {
            checkedForTLS = true
            if configuration.tls == nil, replies.isEmpty,
                let type = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
                let major = bytes.getInteger(at: bytes.readerIndex + 1, as: UInt8.self),
                let minor = bytes.getInteger(at: bytes.readerIndex + 2, as: UInt8.self),
                TLSRecordSniffer.looksLikeTLS(type: type, major: major, minor: minor)
            {
                fail(
                    DeviceError(code: .tls, device: device, detail: "TLS: " + TLSRecordSniffer.message), now: now,
                    &output)
                return output
            }
        }
        if opener.phase != .open {
            advanceSession(now: now, &output)
            guard opener.phase == .open, received != nil, !isInteractive else { return output }
        }
        if !isInteractive, configuration.format.reply.endsAtClose {
            idleDeadline = now + configuration.timeouts.idle
        }
        scanReplies(now: now, &output)
        return output
    }

    /// The device closed its side (end of stream), or the connection went away.
    public mutating func peerClosed(now: Instant) -> Output {
        var output = Output()
        endOfStream(now: now, &output)
        return output
    }

    /// The transport failed: a socket or TLS error, classified into the outcome taxonomy here.
    public mutating func failed(_ error: any Error, now: Instant) -> Output {
        var output = Output()
        guard !isClosed else { return output }
        let classified = DeviceError.classify(
            error, device: device, connecting: connectedAt == nil, connectTimeout: effectiveConnectTimeout)
        fail(classified, now: now, &output)
        return output
    }

    /// A system call failed with `errno` (the epoll path).
    public mutating func failed(errno code: Int32, now: Instant) -> Output {
        var output = Output()
        guard !isClosed else { return output }
        fail(DeviceError.fromErrno(code, device: device, connecting: connectedAt == nil), now: now, &output)
        return output
    }

    /// Time passed: whatever deadline is due fires (stale wake-ups do nothing).
    public mutating func deadlinePassed(now: Instant) -> Output {
        var output = Output()
        while !isClosed, let due = nextDeadline, due <= now {
            fireDeadline(due, now: now, &output)
        }
        return output
    }

    /// Interactive: writes one command and waits for its reply (reported as a ``Notice``).
    public mutating func send(_ payload: [UInt8], now: Instant) -> Output {
        var output = Output()
        guard isInteractive else { return output }
        if let closedError {
            output.notice = .replyFailed(closedError)
            return output
        }
        guard pendingSince == nil else {
            output.notice = .replyFailed(
                DeviceError(code: .ioError, device: device, detail: "a command is already waiting for its reply"))
            return output
        }
        let isFirst = interactiveSent == 0
        if isFirst { output.write = configuration.session.jobStart }
        do {
            try configuration.format.request.encode(
                isFirst ? firstCommandPrefix + payload : payload, into: &output.write)
        } catch {
            output.write = []
            output.notice = .replyFailed(
                DeviceError(
                    code: .ioError, device: device, detail: "cannot frame command: \(error)", mayHaveDelivered: false))
            return output
        }
        interactiveSent += 1
        guard configuration.replies.expectsReply(payload) else {
            // The device answers this command with nothing: it is done once written.
            output.notice = .reply(.absent)
            return output
        }
        pendingSince = now
        replyDeadline = now + configuration.timeouts.reply
        scanReplies(now: now, &output)
        return output
    }

    /// Interactive: the user is leaving. Returns the bytes that end the session (HP PJL's closing UEL) when a
    /// command was sent; the caller writes them, then closes.
    public mutating func closing() -> Output {
        var output = Output()
        guard isInteractive, closedError == nil, interactiveSent > 0 else { return output }
        output.write = configuration.session.jobEnd
        return output
    }

    /// The greeting frames the device sent (payloads as received), for `-v`.
    public var greeting: [[UInt8]] { opener.greeting }

    var effectiveConnectTimeout: Duration {
        let timeouts = configuration.timeouts
        return isInteractive ? timeouts.connect : min(timeouts.connect, timeouts.total ?? timeouts.connect)
    }
}
