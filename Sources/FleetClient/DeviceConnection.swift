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

    private let channel: any Channel
    private let handler: NIOLoopBound<ConnectionHandler>
    public let device: String

    private init(channel: any Channel, handler: NIOLoopBound<ConnectionHandler>, device: String) {
        self.channel = channel
        self.handler = handler
        self.device = device
    }

    /// Connects, runs TLS and the session; throws a ``DeviceError`` when any of it fails.
    /// - Parameter wire: called on the event loop with every chunk written or read.
    public static func open(
        _ address: DeviceAddress, configuration: DeviceClient.Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        wire: (@Sendable (Direction, [UInt8]) -> Void)? = nil
    ) async throws -> DeviceConnection {
        let device = address.description
        let loop = eventLoopGroup.next()
        let opened = loop.makePromise(of: Void.self)
        let timeout = configuration.timeouts.connect
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = configuration.tls {
                        try tls.addHandlers(to: channel.pipeline.syncOperations, host: address.host, handshakeTimeout: timeout)
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(configuration: configuration, device: device, opened: opened, wire: wire))
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
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ConnectionHandler.self), eventLoop: channel.eventLoop)
        }.get()
        return DeviceConnection(channel: channel, handler: handler, device: device)
    }

    /// Sends one command (framed by the configuration) and waits for its reply.
    public func send(_ payload: [UInt8]) async throws -> Reply {
        let handler = self.handler
        let loop = channel.eventLoop
        return try await loop.flatSubmit { handler.value.send(payload, on: loop) }.get()
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Runs the session, then one command at a time: writes it, scans the reply with the configuration's framing.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: DeviceClient.Configuration
    private let device: String
    private var opened: EventLoopPromise<Void>?
    private let wire: (@Sendable (DeviceConnection.Direction, [UInt8]) -> Void)?
    private var opener: SessionOpener
    private var scanner: FrameScanner
    private var received: ByteBuffer?
    private var firstPrefix: [UInt8] = []
    private var pending: (promise: EventLoopPromise<Reply>, sentAt: NIODeadline)?
    private var isFirst = true
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var closedError: DeviceError?
    /// Whether the first bytes were looked at for a TLS record (a plaintext connection to a TLS port).
    private var checkedForTLS = false

    init(
        configuration: DeviceClient.Configuration, device: String, opened: EventLoopPromise<Void>,
        wire: (@Sendable (DeviceConnection.Direction, [UInt8]) -> Void)?
    ) {
        self.configuration = configuration
        self.device = device
        self.opened = opened
        self.wire = wire
        self.opener = SessionOpener(session: configuration.session, password: configuration.password)
        self.scanner = FrameScanner(spec: configuration.format.reply, maxFrameBytes: configuration.maxReplyBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelActive(context: ChannelHandlerContext) {
        if configuration.tls == nil { start(context: context) }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { start(context: context) }
        if case ChannelEvent.inputClosed = event { ended(context: context, "the device closed the connection") }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended(context: context, "the device closed the connection")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let classified = DeviceError.classify(
            error, device: device, connecting: opened != nil, connectTimeout: configuration.timeouts.connect)
        closedError = classified
        opened?.fail(classified)
        opened = nil
        pending?.promise.fail(classified)
        pending = nil
        context.close(promise: nil)
    }

    private func start(context: ChannelHandlerContext) {
        guard opener.phase == .idle else { return }
        arm(context: context, "timed out after \(DurationText.format(configuration.timeouts.reply)) waiting for the session")
        handle(opener.start(), context: context)
    }

    private func handle(_ step: SessionOpener.Step, context: ChannelHandlerContext) {
        switch step {
        case .send(let bytes):
            write(bytes, context: context)
            if received != nil { advance(context: context) }
        case .needMore:
            break
        case .open(let prefix):
            timer?.cancel()
            firstPrefix = prefix
            opened?.succeed()
            opened = nil
        case .refused(let detail):
            errorCaught(context: context, error: DeviceError(code: .sessionRefused, device: device, detail: detail))
        }
    }

    private func advance(context: ChannelHandlerContext) {
        guard var buffer = received else { return }
        let step = opener.consume(&buffer)
        received = buffer.readableBytes > 0 ? buffer : nil
        handle(step, context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        wire?(.received, Array(chunk.readableBytesView))
        if received == nil { received = chunk } else { received!.writeBuffer(&chunk) }  // set just above when nil
        if !checkedForTLS, let bytes = received, bytes.readableBytes >= 3 {
            checkedForTLS = true
            if configuration.tls == nil, TLSRecordSniffer.looksLikeTLS(bytes.readableBytesView) {
                errorCaught(
                    context: context, error: DeviceError(code: .tls, device: device, detail: "TLS: " + TLSRecordSniffer.message))
                return
            }
        }
        if opener.phase != .open {
            advance(context: context)
            return
        }
        scan(context: context)
    }

    func send(_ payload: [UInt8], on eventLoop: any EventLoop) -> EventLoopFuture<Reply> {
        let promise = eventLoop.makePromise(of: Reply.self)
        guard let context else {
            promise.fail(DeviceError(code: .ioError, device: device, detail: "the connection is not set up"))
            return promise.futureResult
        }
        if let closedError {
            promise.fail(closedError)
            return promise.futureResult
        }
        guard pending == nil else {
            promise.fail(DeviceError(code: .ioError, device: device, detail: "a command is already waiting for its reply"))
            return promise.futureResult
        }
        var bytes: [UInt8] = []
        do {
            try configuration.format.request.encode(isFirst ? firstPrefix + payload : payload, into: &bytes)
        } catch {
            promise.fail(DeviceError(code: .ioError, device: device, detail: "cannot frame command: \(error)", mayHaveDelivered: false))
            return promise.futureResult
        }
        pending = (promise, .now())
        arm(context: context, "timed out after \(DurationText.format(configuration.timeouts.reply)) waiting for a reply")
        write(bytes, context: context)
        scan(context: context)
        return promise.futureResult
    }

    private func scan(context: ChannelHandlerContext) {
        guard pending != nil, var buffer = received else { return }
        let scanned: ScannedFrame
        do {
            scanned = try buffer.readFrame(using: &scanner)
        } catch {
            received = nil
            scanner.reset()
            fail(.tooLarge, "reply exceeds \(ByteCount.format(configuration.maxReplyBytes))")
            return
        }
        received = buffer.readableBytes > 0 ? buffer : nil
        guard let payload = scanned.payload, let frame = scanned.frame, let (promise, sentAt) = pending else { return }
        timer?.cancel()
        pending = nil
        if isFirst, opener.isLoginRefusal(payload) {
            promise.fail(DeviceError(code: .sessionRefused, device: device, detail: SessionOpener.loginRefused))
            return
        }
        isFirst = false
        promise.succeed(
            Reply(
                payload: Array(payload.readableBytesView), frame: Array(frame.readableBytesView),
                elapsed: .nanoseconds((NIODeadline.now() - sentAt).nanoseconds)))
    }

    private func write(_ bytes: [UInt8], context: ChannelHandlerContext) {
        wire?(.sent, bytes)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    private func arm(context: ChannelHandlerContext, _ message: String) {
        timer?.cancel()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(configuration.timeouts.reply)) { [self] in
            let error = DeviceError(code: .replyTimeout, device: device, detail: message)
            opened?.fail(error)
            opened = nil
            pending?.promise.fail(error)
            pending = nil
        }
    }

    private func fail(_ code: DeviceError.Code, _ detail: String) {
        pending?.promise.fail(DeviceError(code: code, device: device, detail: detail))
        pending = nil
    }

    private func ended(context: ChannelHandlerContext, _ detail: String) {
        let error = DeviceError(code: .closedEarly, device: device, detail: detail)
        if closedError == nil { closedError = error }
        timer?.cancel()
        opened?.fail(error)
        opened = nil
        pending?.promise.fail(error)
        pending = nil
    }
}
