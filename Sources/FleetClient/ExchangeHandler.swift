import FleetCodec
import FleetFraming
import NIOCore
import NIOTLS
import FleetTLS

/// Runs one conversation on a connected channel: writes the framed commands, reads replies until their
/// terminators, enforces the reply, idle and total timeouts, and completes `promise` with an ``Exchange``.
///
/// It scans raw bytes itself (with the same ``FrameScanner`` the `FrameDecoder` uses) rather than sitting
/// behind a `ByteToMessageHandler`, because it must see every byte: for replies that end at silence, and to
/// say how many bytes of a cut-off reply arrived.
final class ExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var machine: ExchangeStateMachine
    private let commands: [[UInt8]]
    private let configuration: DeviceClient.Configuration
    private let device: String
    private let promise: EventLoopPromise<Exchange>
    private let startedAt: NIODeadline

    private var scanner: FrameScanner
    private var received: ByteBuffer?
    private var replies: [Reply] = []
    private var writtenAt: [NIODeadline]
    private var connectedAt: NIODeadline?
    private var opener: SessionOpener
    /// Bytes put before the first command (a PJLink login digest).
    private var firstCommandPrefix: [UInt8] = []
    private var replyTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var totalTimer: Scheduled<Void>?

    init(
        commands: [[UInt8]], configuration: DeviceClient.Configuration, device: String, startedAt: NIODeadline,
        promise: EventLoopPromise<Exchange>
    ) {
        self.commands = commands
        self.configuration = configuration
        self.device = device
        self.promise = promise
        self.startedAt = startedAt
        self.scanner = FrameScanner(spec: configuration.format.reply, maxFrameBytes: configuration.maxReplyBytes)
        self.writtenAt = Array(repeating: startedAt, count: commands.count)
        self.opener = SessionOpener(session: configuration.session, password: configuration.password)
        self.machine = ExchangeStateMachine(
            commandCount: commands.count,
            isPipelined: configuration.format.reply.isSelfDelimiting && configuration.stopAfterReply == nil,
            halfCloseAfterLast: configuration.halfClose.halfClosesAfterLast(of: commands.count)
        )
    }

    func channelActive(context: ChannelHandlerContext) {
        connectedAt = .now()
        if let total = configuration.timeouts.total {
            let deadline = startedAt + TimeAmount(total)
            totalTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
                fail(
                    context: context, .replyTimeout,
                    "total timeout of \(DurationText.format(total)) expired\(progressNote())")
            }
        }
        // With TLS, the commands go once the handshake completed: a half-close (FIN) must not overtake it.
        if configuration.tls == nil { openSession(context: context) }
        context.fireChannelActive()
    }

    /// Whether the first bytes were looked at for a TLS record (a plaintext exchange with a TLS port).
    private var checkedForTLS = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        guard !machine.isFinished else { return }
        if received == nil {
            received = chunk
        } else {
            received!.writeBuffer(&chunk)  // just set above when nil
        }
        if !checkedForTLS, let bytes = received, bytes.readableBytes >= 3 {
            checkedForTLS = true
            if configuration.tls == nil, replies.isEmpty, TLSRecordSniffer.looksLikeTLS(bytes.readableBytesView) {
                fail(context: context, .tls, "TLS: " + TLSRecordSniffer.message)
                return
            }
        }
        if opener.phase != .open {
            advanceSession(context: context)
            guard opener.phase == .open, received != nil else { return }
        }
        if configuration.format.reply.endsAtClose { armIdleTimer(context: context) }
        scanReplies(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        endOfStream(context: context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, !machine.isFinished { openSession(context: context) }
        if let event = event as? ChannelEvent, event == .inputClosed { endOfStream(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !machine.isFinished else { return }
        let classified = DeviceError.classify(
            error, device: device, connecting: false, connectTimeout: configuration.timeouts.connect)
        finish(context: context, error: classified)
    }

    // MARK: - Actions

    private func perform(_ action: ExchangeStateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .write(let range, let halfClose):
            var buffer = context.channel.allocator.buffer(capacity: range.reduce(0) { $0 + commands[$1].count + 8 })
            do {
                for index in range {
                    let command = index == 0 && !firstCommandPrefix.isEmpty ? firstCommandPrefix + commands[0] : commands[index]
                    try buffer.writeFrame(command, spec: configuration.format.request)
                }
            } catch {
                finish(
                    context: context,
                    error: DeviceError(
                        code: .ioError, device: device, detail: "cannot frame command: \(error)",
                        mayHaveDelivered: range.lowerBound > 0))
                return
            }
            let now = NIODeadline.now()
            for index in range { writtenAt[index] = now }
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenFailure { [self] error in
                errorCaught(context: context, error: error)
            }
            context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
            if halfClose { context.close(mode: .output, promise: nil) }
            armReplyTimer(context: context)
        case .awaitNextReply:
            armReplyTimer(context: context)
        case .complete:
            finish(context: context, error: nil)
        case .none:
            break
        }
    }

    private func scanReplies(context: ChannelHandlerContext) {
        while !machine.isFinished, received != nil {
            let scanned: ScannedFrame
            do {
                scanned = try received!.readFrame(using: &scanner)  // checked non-nil by the loop condition
            } catch {
                fail(context: context, .tooLarge, "reply exceeds \(ByteCount.format(configuration.maxReplyBytes))")
                return
            }
            guard let payload = scanned.payload, let frame = scanned.frame else {
                compactIfEmpty()
                return
            }
            deliver(payload: payload, frame: frame, context: context)
        }
    }

    private func deliver(payload: ByteBuffer, frame: ByteBuffer, context: ChannelHandlerContext) {
        if replies.isEmpty, opener.isLoginRefusal(payload) {
            // The projector refused the login digest: no command was run.
            fail(context: context, .sessionRefused, SessionOpener.loginRefused)
            return
        }
        let stop = configuration.stopAfterReply.map { $0(Array(payload.readableBytesView)) } ?? false
        let (index, action) = machine.replyReceived(stop: stop)
        guard let index else { return }
        replies.append(
            Reply(
                payload: Array(payload.readableBytesView), frame: Array(frame.readableBytesView),
                elapsed: elapsed(since: writtenAt[index])))
        replyTimer?.cancel()
        idleTimer?.cancel()
        compactIfEmpty()
        perform(action, context: context)
    }

    private func endOfStream(context: ChannelHandlerContext) {
        guard !machine.isFinished else { return }
        if opener.phase == .handshake || opener.phase == .greeting {
            fail(
                context: context, .sessionRefused,
                "closed during the \(opener.phase == .handshake ? "handshake" : "greeting") (no command was sent)")
            return
        }
        if var buffer = received, configuration.format.reply.endsAtClose {
            received = nil
            if let scanned = try? buffer.readLastFrame(using: &scanner), let payload = scanned.payload,
                let frame = scanned.frame
            {
                deliver(payload: payload, frame: frame, context: context)
                if machine.isFinished { return }
            }
        }
        let got = received?.readableBytes ?? 0
        let awaited = machine.awaitedReply ?? 0
        let what =
            got == 0
            ? (awaited == 0 ? "closed without replying" : "closed after \(awaited) of \(commands.count) replies")
            : "closed before the reply was complete (got \(got) \(got == 1 ? "byte" : "bytes"), \(missingEnd()))"
        fail(context: context, .closedEarly, what)
    }

    private func missingEnd() -> String {
        let spec = configuration.format.reply
        if let terminator = spec.terminator {
            return "no \(FrameSpec.delimited(terminator: terminator).endDescription)"
        }
        return "expected \(spec.endDescription)"
    }

    // MARK: - Timers

    private func armReplyTimer(context: ChannelHandlerContext) {
        replyTimer?.cancel()
        let timeout = configuration.timeouts.reply
        replyTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) { [self] in
            if configuration.format.reply.endsAtClose, let buffer = received, buffer.readableBytes > 0 {
                completeIdleReply(context: context)
                return
            }
            fail(
                context: context, .replyTimeout,
                "timed out after \(DurationText.format(timeout)) waiting for a reply\(progressNote())")
        }
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(configuration.timeouts.idle)) {
            [self] in
            completeIdleReply(context: context)
        }
    }

    /// A reply that ends at close has gone quiet: everything received so far is the reply.
    private func completeIdleReply(context: ChannelHandlerContext) {
        guard !machine.isFinished, var buffer = received, buffer.readableBytes > 0 else { return }
        received = nil
        scanner.reset()
        if let scanned = try? buffer.readLastFrame(using: &scanner), let payload = scanned.payload,
            let frame = scanned.frame
        {
            deliver(payload: payload, frame: frame, context: context)
        }
    }

    // MARK: - Completion

    private func progressNote() -> String {
        var parts: [String] = []
        if commands.count > 1 { parts.append("got \(replies.count) of \(commands.count) replies") }
        if let pending = received?.readableBytes, pending > 0 {
            parts.append("\(pending) bytes of a partial reply, \(missingEnd())")
        }
        return parts.isEmpty ? "" : " (\(parts.joined(separator: "; ")))"
    }

    private func fail(context: ChannelHandlerContext, _ code: DeviceError.Code, _ detail: String) {
        finish(context: context, error: DeviceError(code: code, device: device, detail: detail))
    }

    private func finish(context: ChannelHandlerContext, error: DeviceError?) {
        guard machine.finish() || error == nil else { return }
        replyTimer?.cancel()
        idleTimer?.cancel()
        totalTimer?.cancel()
        let exchange = Exchange(
            device: device,
            commandCount: commands.count,
            replies: replies,
            error: error,
            connectDuration: connectedAt.map { elapsed(since: startedAt, until: $0) },
            totalDuration: elapsed(since: startedAt),
            // After a failure the buffered bytes are the cut-off reply (reported in the error), not leftover.
            leftoverBytes: error == nil ? received?.readableBytes ?? 0 : 0
        )
        received = nil
        context.close(promise: nil)
        promise.succeed(exchange)
    }

    private func compactIfEmpty() {
        if received?.readableBytes == 0 { received = nil }
    }

    private func elapsed(since start: NIODeadline, until end: NIODeadline = .now()) -> Duration {
        .nanoseconds((end - start).nanoseconds)
    }
}

@available(*, unavailable)
extension ExchangeHandler: Sendable {}

extension ExchangeHandler {
    /// The connection (and TLS, if any) is up: start the device's session, or the commands when it has none.
    private func openSession(context: ChannelHandlerContext) {
        guard opener.phase == .idle, !machine.isFinished else { return }
        armReplyTimer(context: context)  // bounds the whole opening: handshake and greeting
        handle(opener.start(), context: context)
    }

    /// Consumes handshake and greeting bytes from `received`; leftover bytes stay for the replies.
    private func advanceSession(context: ChannelHandlerContext) {
        guard var buffer = received else { return }
        let step = opener.consume(&buffer)
        received = buffer
        compactIfEmpty()
        handle(step, context: context)
    }

    private func handle(_ step: SessionOpener.Step, context: ChannelHandlerContext) {
        switch step {
        case .send(let bytes):
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            if received != nil { advanceSession(context: context) }
        case .needMore:
            break
        case .open(let prefix):
            firstCommandPrefix = prefix
            replyTimer?.cancel()
            perform(machine.connected(), context: context)
        case .refused(let detail):
            fail(context: context, .sessionRefused, detail)
        }
    }
}
