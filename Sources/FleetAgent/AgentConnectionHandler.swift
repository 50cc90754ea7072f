import FleetCodec
import FleetFraming
import FleetTLS
import Logging
import NIOCore
import NIOSSL
import NIOTLS

/// Serves one connection on its event loop: answers each batch of request frames and writes the replies in one
/// write, with no task and no hop to another thread when every route answers at once (static replies, builtins,
/// immediate handlers), which is what a short device conversation needs to be cheap.
///
/// A batch that needs an `exec` or an async handler is answered by a job on the agent's task group; batches that
/// arrive meanwhile wait, so replies stay in request order. After the client half-closes, the connection closes
/// once every reply is written.
///
/// Backpressure: no more input is read while a batch is being answered or while the socket cannot take more
/// output (a client that sends but never reads), so neither queued requests nor unsent replies grow without bound.
final class AgentConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = AgentInbound
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// What every connection shares: one reference per connection (the responder and configuration are large).
    final class Context: Sendable {
        let responder: AgentResponder
        let registry: ConnectionRegistry
        let spec: FrameSpec
        /// Runs async work as a child of the agent's task group; `false` when the agent is stopping.
        let spawn: @Sendable (@escaping @Sendable () async -> Void) -> Bool
        /// Rate limit for connection-level log lines (failed handshakes).
        let logLimiter: LogRateLimiter

        init(
            responder: AgentResponder, registry: ConnectionRegistry, spec: FrameSpec,
            spawn: @escaping @Sendable (@escaping @Sendable () async -> Void) -> Bool, logLimiter: LogRateLimiter
        ) {
            self.responder = responder
            self.registry = registry
            self.spec = spec
            self.spawn = spawn
            self.logLimiter = logLimiter
        }
    }

    private let shared: Context
    private let id: Int
    private let listener: Int
    /// The peer as text, made when first needed (a connection that stays idle never needs it).
    private var peerText: String?
    private var identity: ClientIdentity?
    private var handshakeDone = false
    private var queue: [AgentInbound] = []  // rarely more than one waits; no allocation while empty
    private var isBusy = false
    private var isInputClosed = false
    private var isClosing = false
    private var lastWrite: EventLoopFuture<Void>?
    private var isWritable = true
    private var pendingRead = false

    init(context: Context, id: Int, listener: Int) {
        self.shared = context
        self.id = id
        self.listener = listener
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        guard shared.registry.register(id, channel: channel) else {
            context.close(promise: nil)
            return
        }
        // The close future, not channelInactive: a connection reset while it was being set up closes without ever
        // having been active, and an entry left behind would keep a stopping agent waiting for it forever.
        let registry = shared.registry
        let id = self.id
        channel.closeFuture.whenComplete { _ in registry.remove(id) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let batch = unwrapInboundIn(data)
        guard !isClosing else { return }
        if isBusy {
            queue.append(batch)
        } else {
            // Bytes that were read before shutdown began are answered; a connection idle at that moment is closed.
            process(batch, context: context, draining: true)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            handshakeDone = true
            identity = ServerTLS.peerIdentity(of: context.pipeline.syncOperations)
        }
        if case ChannelEvent.inputClosed = event {
            isInputClosed = true
            if !isBusy, queue.isEmpty { closeAfterWrites(context: context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? NIOSSLError, case .uncleanShutdown = error, identity != nil || handshakeDone {
            // The client closed TCP without TLS close_notify after the handshake: most clients do that after a
            // complete exchange. An ordinary end, not a TLS failure; close our side at once.
            context.close(promise: nil)
            return
        }
        if error is NIOSSLError || error is BoringSSLError,
            let failure = TLSFailure.fromLibraryError(error, isServer: true)
        {
            shared.responder.stats.error(.tlsHandshake)
            shared.logLimiter.info(
                shared.responder.logger, kind: "tls_failure", "TLS failed",
                metadata: [
                    "peer": "\(peer(context))", "reason": "\(failure.detail)", "kind": "\(failure.kind.rawValue)",
                ])
        }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if isBusy || !isWritable || !queue.isEmpty {
            pendingRead = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        resumeReading(context: context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard pendingRead, !isBusy, isWritable, queue.isEmpty else { return }
        pendingRead = false
        context.read()
    }

    private func peer(_ context: ChannelHandlerContext) -> String {
        if let peerText { return peerText }
        let text = context.channel.remoteAddress.map(SocketAddressText.describe) ?? "?"
        peerText = text
        return text
    }

    private func caller(_ context: ChannelHandlerContext) -> AgentResponder.Caller {
        AgentResponder.Caller(peer: peer(context), connectionID: id, listener: listener, identity: identity)
    }

    private func process(_ batch: AgentInbound, context: ChannelHandlerContext, draining: Bool = false) {
        guard shared.registry.beginCommand(id, draining: draining) else {
            closeAfterWrites(context: context)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: batch.frames.count * 16)
        let who = caller(context)
        let responder = shared.responder
        let spec = shared.spec
        // The batch's frames were received together: one clock reading for all of them.
        let received = NIODeadline.now()
        for index in batch.frames.indices {
            guard let reply = responder.replyNow(to: batch.frames[index], caller: who, received: received) else {
                answerLater(Array(batch.frames[index...]), head: buffer, batch, context: context)
                return
            }
            buffer.writeReply(reply, spec: spec)
        }
        write(batch, buffer: buffer, context: context, written: nil)
    }

    /// Answers `frames` in a job, then writes the batch's replies back on the event loop.
    private func answerLater(
        _ frames: [ByteBuffer], head: ByteBuffer, _ batch: AgentInbound, context: ChannelHandlerContext
    ) {
        isBusy = true
        let shared = self.shared
        let who = caller(context)
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context), eventLoop: loop)
        // The job lasts until its replies are written, so that the agent does not stop (and exit) before.
        let written = loop.makePromise(of: Void.self)
        let started = shared.spawn {
            var buffer = head
            for payload in frames {
                buffer.writeReply(await shared.responder.reply(to: payload, caller: who), spec: shared.spec)
            }
            loop.execute { [buffer] in
                let (handler, context) = bound.value
                handler.write(batch, buffer: buffer, context: context, written: written)
            }
            try? await written.futureResult.get()
        }
        if !started {
            isBusy = false
            written.succeed()
            context.close(promise: nil)
        }
    }

    /// Writes a batch's replies (one write); completes `written` once they are written.
    private func write(
        _ batch: AgentInbound, buffer: ByteBuffer, context: ChannelHandlerContext, written: EventLoopPromise<Void>?
    ) {
        defer {
            if let written {
                if let lastWrite { lastWrite.cascadeSuccess(to: written) } else { written.succeed() }
                lastWrite?.whenFailure { _ in written.succeed() }
            }
        }
        isBusy = false
        var buffer = buffer
        let stopping = shared.registry.isShuttingDown
        if batch.frameTooLarge, !stopping { buffer.writeReply(.error("frame too large"), spec: shared.spec) }
        if buffer.readableBytes > 0, context.channel.isActive {
            shared.responder.auditWillReply?()
            lastWrite = context.writeAndFlush(wrapOutboundOut(buffer))
        }
        let keepGoing = shared.registry.endCommand(id)
        if batch.frameTooLarge {
            shared.logLimiter.info(
                shared.responder.logger, kind: "frame_too_large", "frame too large; connection closed",
                metadata: ["peer": "\(peer(context))", "connection.id": "\(id)"])
            lingeringClose(context: context)
        } else if !queue.isEmpty {
            let next = queue.removeFirst()
            // Frames already received are answered, also when shutdown has begun (within its grace period).
            process(next, context: context, draining: true)
        } else if !keepGoing || isInputClosed {
            closeAfterWrites(context: context)
        } else {
            resumeReading(context: context)
        }
    }

    /// Closes once the replies written so far have left.
    private func closeAfterWrites(context: ChannelHandlerContext) {
        guard !isClosing else { return }
        isClosing = true
        queue.removeAll()
        guard let lastWrite else {
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        lastWrite.whenComplete { _ in channel.close(promise: nil) }
    }

    /// FIN after the error reply, input discarded until the client closes (``ConnectionClosing/lingering(_:grace:)``).
    private func lingeringClose(context: ChannelHandlerContext) {
        guard !isClosing else { return }
        isClosing = true
        queue.removeAll()
        ConnectionClosing.lingering(context.channel)
    }
}

@available(*, unavailable)
extension AgentConnectionHandler: Sendable {}
