import FleetAgent
import FleetFraming
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// Sits between the agent's framing and its command handler on every simulated connection (added through
/// ``AgentConnectionHooks``): counts each batch of request frames and each write of replies in the device's ledger,
/// and carries out the device's fault on the replies the agent writes, each fault as its definition in ``Fault``
/// says. A healthy device's replies pass through untouched.
///
/// While a write is held back (latency, drip, a FIN-intolerant device's wait), no more input is read, so a client
/// that pipelines cannot make held replies pile up.
final class FaultHandler: ChannelDuplexHandler {
    typealias InboundIn = AgentInbound
    typealias InboundOut = AgentInbound
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let fault: Fault?
    private let ledger: DeviceLedger
    private let device: Int
    private let reply: FrameSpec
    /// Replies the agent owes, per batch in arrival order: one write of the agent answers one batch.
    private var owed = CircularBuffer<Int>()
    private var isInputClosed = false
    /// After the fault ended the conversation (a reset, a cut reply): the agent's later writes go nowhere.
    private var isDone = false
    /// The last held write: the next waits for it, so replies keep their order.
    private var previous: EventLoopFuture<Void>?
    private var held = 0
    private var pendingRead = false
    /// A FIN-intolerant device's reply, waiting to see whether the client half-closes.
    private var waiting: (buffer: ByteBuffer, count: Int, promise: EventLoopPromise<Void>?, timer: Scheduled<Void>)?

    init(fault: Fault?, ledger: DeviceLedger, device: Int, reply: FrameSpec) {
        self.fault = fault
        self.ledger = ledger
        self.device = device
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let batch = unwrapInboundIn(data)
        ledger.received(device, count: batch.frames.count)
        owed.append(batch.frames.count + (batch.frameTooLarge ? 1 : 0))
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            isInputClosed = true
            if let waiting {
                // The client half-closed: a FIN-intolerant device drops the reply and closes.
                self.waiting = nil
                waiting.timer.cancel()
                release(context: context)
                waiting.promise?.succeed()
                context.close(promise: nil)
            }
            switch fault {
            case .neverReply, .missingTerminator: return  // such a device does not close after the client's FIN
            default: break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if held > 0 { pendingRead = true } else { context.read() }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let buffer = unwrapOutboundIn(data)
        let count = owed.popFirst() ?? 0
        guard !isDone else {
            promise?.succeed()
            return
        }
        switch fault {
        case .latency(let latency):
            var generator = SystemRandomNumberGenerator()
            later(context: context, by: latency.sample(using: &generator), [buffer], count: count, promise: promise)
        case .drip(let bytes, let every):
            var rest = buffer
            var pieces: [ByteBuffer] = []
            while rest.readableBytes > 0 { pieces.append(rest.readSlice(length: min(bytes, rest.readableBytes))!) }
            later(context: context, by: .zero, pieces, gap: every, count: count, promise: promise)
        case .neverReply:
            promise?.succeed()
        case .resetMidReply:
            isDone = true
            var half = buffer
            half = half.readSlice(length: buffer.readableBytes / 2)!  // at most what is readable
            context.writeAndFlush(wrapOutboundOut(half), promise: nil)
            // The half reaches the client before the reset.
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .milliseconds(20)) {
                Self.reset(channel).whenComplete { _ in promise?.succeed() }
            }
        case .closeBeforeTerminator:
            isDone = true
            let first = replies(in: buffer).first
            var head = buffer
            if let first {
                // The first reply, cut before its terminator (or its last byte, for framings without one).
                let cut = max(1, reply.terminator?.count ?? 1)
                head = buffer.getSlice(at: buffer.readerIndex, length: max(0, first.frame.upperBound - cut))!
            }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(head)).whenComplete { _ in
                channel.close(promise: nil)
                promise?.succeed()
            }
        case .garbage:
            let terminator = Set(reply.terminator ?? [])
            var generator = SystemRandomNumberGenerator()
            var junk: [UInt8] = []
            for _ in 0..<count {
                let payload = (0..<Int.random(in: 8...32, using: &generator)).map { _ in
                    var byte = UInt8.random(in: 0...255, using: &generator)
                    while terminator.contains(byte) { byte &+= 1 }
                    return byte
                }
                try? reply.encode(payload, into: &junk)
            }
            send(context: context, context.channel.allocator.buffer(bytes: junk), count: count, promise: promise)
        case .oversized(let bytes):
            oversized(context: context, left: bytes, count: count, promise: promise)
        case .missingTerminator:
            isDone = true
            var payloads = context.channel.allocator.buffer(capacity: buffer.readableBytes)
            for match in replies(in: buffer) {
                payloads.writeImmutableBuffer(
                    buffer.getSlice(at: buffer.readerIndex + match.payload.lowerBound, length: match.payload.count)!)
            }
            context.writeAndFlush(wrapOutboundOut(payloads), promise: promise)
        case .finIntolerant:
            if isInputClosed {
                isDone = true
                promise?.succeed()
                context.close(promise: nil)
                return
            }
            hold()
            let timer = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(50)) { [self] in
                guard let waiting else { return }
                self.waiting = nil
                release(context: context)
                send(context: context, waiting.buffer, count: waiting.count, promise: waiting.promise)
            }
            waiting = (buffer, count, promise, timer)
        case .refuse, .neverRead, .singleSession, .flapping, nil:
            send(context: context, buffer, count: count, promise: promise)
        }
    }

    // MARK: - Writing

    /// Writes `buffer` now. The replies count as sent when they are handed to the socket, before the client can
    /// have read them, so that a counter read after a reply arrived always includes it.
    private func send(
        context: ChannelHandlerContext, _ buffer: ByteBuffer, count: Int, promise: EventLoopPromise<Void>?
    ) {
        ledger.replied(device, count: count)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: promise)
    }

    /// Writes `pieces` after `delay` (and after the write before), `gap` apart; reading waits meanwhile.
    private func later(
        context: ChannelHandlerContext, by delay: Duration, _ pieces: [ByteBuffer], gap: Duration = .zero, count: Int,
        promise: EventLoopPromise<Void>?
    ) {
        hold()
        let done = context.eventLoop.makePromise(of: Void.self)
        let start: EventLoopFuture<Void> = previous ?? context.eventLoop.makeSucceededVoidFuture()
        previous = done.futureResult
        start.assumeIsolated().whenComplete { [self] _ in
            writePieces(context: context, pieces[...], after: delay, gap: gap, count: count, done: done)
        }
        done.futureResult.assumeIsolated().whenComplete { [self] _ in release(context: context) }
        done.futureResult.cascade(to: promise)
    }

    private func writePieces(
        context: ChannelHandlerContext, _ pieces: ArraySlice<ByteBuffer>, after delay: Duration, gap: Duration,
        count: Int, done: EventLoopPromise<Void>
    ) {
        guard let piece = pieces.first else {
            done.succeed()
            return
        }
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            guard context.channel.isActive else {
                done.fail(ChannelError.ioOnClosedChannel)
                return
            }
            if pieces.count == 1 {
                ledger.replied(device, count: count)  // the last piece completes the replies
                context.writeAndFlush(wrapOutboundOut(piece), promise: done)
            } else {
                context.writeAndFlush(wrapOutboundOut(piece), promise: nil)
                writePieces(context: context, pieces.dropFirst(), after: gap, gap: gap, count: count, done: done)
            }
        }
    }

    /// `left` bytes of X in 64 KiB writes, each after the previous left, then the terminator.
    private func oversized(context: ChannelHandlerContext, left: Int, count: Int, promise: EventLoopPromise<Void>?) {
        guard left > 0 else {
            send(
                context: context, context.channel.allocator.buffer(bytes: reply.terminator ?? []), count: count,
                promise: promise)
            return
        }
        var chunk = context.channel.allocator.buffer(capacity: min(left, 64 << 10))
        chunk.writeRepeatingByte(UInt8(ascii: "X"), count: min(left, 64 << 10))
        context.writeAndFlush(wrapOutboundOut(chunk)).assumeIsolated().whenComplete { [self] result in
            guard case .success = result else {
                promise?.succeed()
                return
            }
            oversized(context: context, left: left - chunk.readableBytes, count: count, promise: promise)
        }
    }

    private func hold() { held += 1 }

    private func release(context: ChannelHandlerContext) {
        held -= 1
        if held == 0, pendingRead {
            pendingRead = false
            context.read()
        }
    }

    /// The replies in a write of the agent's, as the reply framing cuts them: offsets from the readable start.
    private func replies(in buffer: ByteBuffer) -> [(payload: Range<Int>, frame: Range<Int>)] {
        var scanner = FrameScanner(spec: reply, maxFrameBytes: max(1, buffer.readableBytes))
        var matches: [(payload: Range<Int>, frame: Range<Int>)] = []
        var offset = 0
        buffer.withUnsafeReadableBytes { bytes in
            while offset < bytes.count,
                case .frame(let match)? = try? scanner.next(in: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            {
                matches.append((match.payload.shifted(by: offset), match.frame.shifted(by: offset)))
                offset += match.end
            }
        }
        return matches
    }

    /// Aborts the connection with a TCP reset (SO_LINGER 0, then close).
    private static func reset(_ channel: any Channel) -> EventLoopFuture<Void> {
        let linger =
            (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            ?? channel.eventLoop.makeSucceededVoidFuture()
        return linger.flatMap { channel.close() }
    }
}

@available(*, unavailable)
extension FaultHandler: Sendable {}

extension Range<Int> {
    fileprivate func shifted(by offset: Int) -> Range<Int> { (lowerBound + offset)..<(upperBound + offset) }
}
