import NIOCore
import NIOTLS

/// The NIO shell of a one-shot ``DeviceConversation`` (`send`, `probe`, the runner's NIO path): it hands the
/// channel's events to the conversation and carries out what comes back (writes, half-close, one timer, close),
/// then completes `promise` with the ``Exchange``. No protocol rule lives here.
final class ExchangeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var conversation: DeviceConversation
    private let promise: EventLoopPromise<Exchange>
    private var timer = ConversationTimer()
    /// Timers start once connected: NIO's bootstrap bounds the connection attempt itself.
    private var isActive = false

    init(
        commands: [[UInt8]], configuration: DeviceClient.Configuration, device: String,
        startedAt: ContinuousClock.Instant, promise: EventLoopPromise<Exchange>
    ) {
        self.conversation = DeviceConversation(
            commands: commands, configuration: configuration, device: device, startedAt: startedAt)
        self.promise = promise
    }

    func channelActive(context: ChannelHandlerContext) {
        isActive = true
        perform(conversation.connected(now: .now), context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(conversation.received(unwrapInboundIn(data), now: .now), context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(conversation.peerClosed(now: .now), context: context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            perform(conversation.tlsEstablished(now: .now), context: context)
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            perform(conversation.peerClosed(now: .now), context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        perform(conversation.failed(error, now: .now), context: context)
    }

    private func perform(_ output: DeviceConversation.Output, context: ChannelHandlerContext) {
        var lastWrite: EventLoopFuture<Void>?
        if !output.write.isEmpty {
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenFailure { [self] error in
                errorCaught(context: context, error: error)
            }
            context.writeAndFlush(
                wrapOutboundOut(context.channel.allocator.buffer(bytes: output.write)), promise: written)
            lastWrite = written.futureResult
        }
        if output.halfClose { context.close(mode: .output, promise: nil) }
        if let exchange = output.finished {
            timer.cancel()
            if let lastWrite, exchange.error == nil {
                // The last bytes (commands that get no reply, a job's end) leave before the close.
                lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
            promise.succeed(exchange)
            return
        }
        if isActive { rearm(context: context) }
    }

    /// One timer, for the conversation's earliest deadline.
    private func rearm(context: ChannelHandlerContext) {
        timer.rearm(for: conversation.nextDeadline, on: context.eventLoop) { [self] in timerWentOff(context: context) }
    }

    private func timerWentOff(context: ChannelHandlerContext) {
        guard timer.fired(on: context.eventLoop, { [self] in timerWentOff(context: context) }) else { return }
        perform(conversation.deadlinePassed(now: .now), context: context)
    }
}

@available(*, unavailable)
extension ExchangeHandler: Sendable {}
