import FleetCodec
import FleetFraming
import FleetTLS
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix
import NIOTLS

/// One open connection to a device for a conversation of unknown length (`fleetcmd shell`): commands are sent one
/// at a time, each answered by one reply, with the device's session (handshake, greeting, login) and TLS first.
///
/// ```swift
/// let connection = try await DeviceConnection.open(address, configuration: .init(format: .escCR))
/// let reply = try await connection.send(Array("STATUS".utf8))
/// await connection.close()
/// ```
public final class DeviceConnection: Sendable {
    /// Bytes as they crossed the wire, for `:raw`.
    public enum Direction: Sendable { case sent, received }

    /// What happens on the connection between commands.
    public enum Event: Sendable {
        /// A frame the device sent while no command waited for a reply (an event it pushes unasked).
        case unsolicited(Reply)
        /// The connection ended while no command was waiting: the device closed it, or it failed.
        case closed(DeviceError)
    }

    private let channel: any Channel
    private let handler: NIOLoopBound<ConnectionHandler>
    public let device: String
    /// What the device greeted with (each greeting frame, as received); empty when it did not greet.
    public let greeting: [[UInt8]]

    private init(
        channel: any Channel, handler: NIOLoopBound<ConnectionHandler>, device: String, greeting: [[UInt8]]
    ) {
        self.channel = channel
        self.handler = handler
        self.device = device
        self.greeting = greeting
    }

    /// Connects, runs TLS and the session; throws a ``DeviceError`` when any of it fails.
    /// - Parameters:
    ///   - wire: called on the event loop with every chunk written or read.
    ///   - events: called on the event loop, as they happen, with frames the device pushes unasked and with the
    ///     end of a connection no command was waiting on.
    public static func open(
        _ address: DeviceAddress, configuration: DeviceClient.Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        wire: (@Sendable (Direction, [UInt8]) -> Void)? = nil,
        events: (@Sendable (Event) -> Void)? = nil
    ) async throws -> DeviceConnection {
        let device = address.description
        let loop = eventLoopGroup.next()
        let opened = loop.makePromise(of: Void.self)
        let timeout = configuration.timeouts.connect
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = configuration.tls {
                        try tls.addHandlers(
                            to: channel.pipeline.syncOperations, host: address.host, handshakeTimeout: timeout)
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(
                            configuration: configuration, device: device, opened: opened, wire: wire, events: events))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(to: address).get()
        } catch {
            throw DeviceError.classify(error, device: device, connecting: true, connectTimeout: timeout)
        }
        do {
            try await opened.futureResult.get()
        } catch {
            try? await channel.close()
            throw DeviceError.classify(error, device: device, connecting: true, connectTimeout: timeout)
        }
        let (handler, greeting) = try await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: ConnectionHandler.self)
            return (NIOLoopBound(handler, eventLoop: channel.eventLoop), handler.greeting)
        }.get()
        return DeviceConnection(channel: channel, handler: handler, device: device, greeting: greeting)
    }

    /// Sends one command (framed by the configuration) and waits for its reply.
    public func send(_ payload: [UInt8]) async throws -> Reply {
        let handler = self.handler
        let loop = channel.eventLoop
        return try await loop.flatSubmit { handler.value.send(payload, on: loop) }.get()
    }

    /// Whether the connection can still carry commands (a reply timeout leaves it open; a total timeout, an error
    /// or the device closing does not).
    public var isOpen: Bool { channel.isActive }

    /// Ends the session as the device expects (HP PJL's closing UEL, when a command was sent), then closes.
    public func close() async {
        let handler = self.handler
        let loop = channel.eventLoop
        try? await loop.flatSubmit { handler.value.leave(on: loop) }.get()
    }
}

/// The NIO shell of an interactive ``DeviceConversation``: hands the channel's events to it, carries out what
/// comes back (writes, one timer, close) and completes the opening and each command's promise from its notices.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var conversation: DeviceConversation
    private let device: String
    private var opened: EventLoopPromise<Void>?
    private var pending: EventLoopPromise<Reply>?
    private let wire: (@Sendable (DeviceConnection.Direction, [UInt8]) -> Void)?
    private let events: (@Sendable (DeviceConnection.Event) -> Void)?
    private var context: ChannelHandlerContext?
    private var timer = ConversationTimer()

    init(
        configuration: DeviceClient.Configuration, device: String, opened: EventLoopPromise<Void>,
        wire: (@Sendable (DeviceConnection.Direction, [UInt8]) -> Void)?,
        events: (@Sendable (DeviceConnection.Event) -> Void)? = nil
    ) {
        self.conversation = DeviceConversation(interactiveWith: configuration, device: device, startedAt: .now)
        self.device = device
        self.opened = opened
        self.wire = wire
        self.events = events
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        perform(conversation.connected(now: .now), context: context)
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            perform(conversation.tlsEstablished(now: .now), context: context)
        }
        if case ChannelEvent.inputClosed = event { perform(conversation.peerClosed(now: .now), context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(conversation.peerClosed(now: .now), context: context)
        timer.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        perform(conversation.failed(error, now: .now), context: context)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        wire?(.received, Array(chunk.readableBytesView))
        perform(conversation.received(chunk, now: .now), context: context)
    }

    var greeting: [[UInt8]] { conversation.greeting }

    /// Writes what ends the session (``DeviceConversation/closing()``), then closes the channel.
    func leave(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        guard let context else { return eventLoop.makeSucceededVoidFuture() }
        let output = conversation.closing()
        guard !output.write.isEmpty, context.channel.isActive else { return context.close() }
        wire?(.sent, output.write)
        return context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: output.write)))
            .flatMap { context.close() }
    }

    func send(_ payload: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<Reply> {
        let promise = eventLoop.makePromise(of: Reply.self)
        guard let context else {
            promise.fail(DeviceError(code: .ioError, device: device, detail: "the connection is not set up"))
            return promise.futureResult
        }
        guard pending == nil else {
            // The conversation refuses a second command while one waits; its notice is about the new one.
            if case .replyFailed(let error) = conversation.send(payload, now: .now).notice { promise.fail(error) }
            return promise.futureResult
        }
        pending = promise
        perform(conversation.send(payload, now: .now), context: context)
        return promise.futureResult
    }

    private func perform(_ output: DeviceConversation.Output, context: ChannelHandlerContext) {
        if !output.write.isEmpty {
            wire?(.sent, output.write)
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: output.write)), promise: nil)
        }
        if output.halfClose { context.close(mode: .output, promise: nil) }
        // Closed before anyone hears of it, so that a caller told of a failure sees ``DeviceConnection/isOpen`` false.
        if output.close { context.close(promise: nil) }
        for reply in output.unsolicited { events?(.unsolicited(reply)) }  // before a close they preceded
        switch output.notice {
        case .opened:
            opened?.succeed()
            opened = nil
        case .openFailed(let error):
            opened?.fail(error)
            opened = nil
        case .reply(let reply):
            pending?.succeed(reply)
            pending = nil
        case .replyFailed(let error):
            pending?.fail(error)
            pending = nil
        case .closed(let error):
            events?(.closed(error))
        case nil:
            break
        }
        rearm(context: context)
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
