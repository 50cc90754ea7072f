import FleetCodec
public import FleetFraming
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// How a scripted loopback device behaves. Each case is a device seen in real fleets.
public enum DeviceBehavior: Sendable {
    /// Answers every request at once.
    case answer(@Sendable ([UInt8]) -> [UInt8])
    /// Collects requests and answers them only once the client half-closes (the seed article's agent).
    case answerAfterHalfClose(@Sendable ([UInt8]) -> [UInt8])
    /// Answers after `delay`, but closes without answering if the client half-closes first (FIN-intolerant).
    case dropReplyOnHalfClose(delay: TimeAmount, @Sendable ([UInt8]) -> [UInt8])
    /// Answers in chunks of `chunkSize` bytes, one every `interval`, each flushed on its own.
    case drip(chunkSize: Int, interval: TimeAmount, @Sendable ([UInt8]) -> [UInt8])
    /// Reads requests and never answers.
    case silent
    /// Resets the connection (RST) when a request arrives.
    case resetOnRequest
    /// Writes these bytes when a request arrives, then closes.
    case writeThenClose([UInt8])
}

/// A loopback TCP server on 127.0.0.1 with an ephemeral port that frames with `format` and behaves as told.
public final class ScriptedDevice: Sendable {
    public let port: Int
    private let channel: any Channel
    private let received: NIOLockedValueBox<[[UInt8]]>

    /// Every request payload the device decoded so far, in arrival order.
    public var requests: [[UInt8]] { received.withLockedValue { $0 } }

    public static func start(
        host: String = "127.0.0.1", format: FrameFormat = .escCR, behavior: DeviceBehavior
    ) async throws -> ScriptedDevice {
        let received = NIOLockedValueBox<[[UInt8]]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(spec: format.request)))
                    try child.pipeline.syncOperations.addHandler(
                        ScriptedDeviceHandler(format: format, behavior: behavior, received: received))
                }
            }
            .bind(host: host, port: 0).get()
        // bound just above
        return ScriptedDevice(port: channel.localAddress!.port!, channel: channel, received: received)
    }

    private init(port: Int, channel: any Channel, received: NIOLockedValueBox<[[UInt8]]>) {
        self.port = port
        self.channel = channel
        self.received = received
    }

    public func stop() async {
        try? await channel.close()
    }
}

final class ScriptedDeviceHandler: ChannelInboundHandler {
    typealias InboundIn = DecodedFrame
    typealias OutboundOut = ByteBuffer

    private let format: FrameFormat
    private let behavior: DeviceBehavior
    private let received: NIOLockedValueBox<[[UInt8]]>
    private var held: [[UInt8]] = []
    private var halfClosed = false

    init(format: FrameFormat, behavior: DeviceBehavior, received: NIOLockedValueBox<[[UInt8]]>) {
        self.format = format
        self.behavior = behavior
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let request = Array(unwrapInboundIn(data).payload.readableBytesView)
        received.withLockedValue { $0.append(request) }
        switch behavior {
        case .answer(let reply):
            write(reply(request), context: context)
        case .answerAfterHalfClose:
            held.append(request)
        case .dropReplyOnHalfClose(let delay, let reply):
            context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
                if !halfClosed { write(reply(request), context: context) }
            }
        case .drip(let chunkSize, let interval, let reply):
            var framed = context.channel.allocator.buffer(capacity: 64)
            try! framed.writeFrame(reply(request), spec: format.reply)  // test replies always fit their framing
            var delay = interval
            while framed.readableBytes > 0 {
                let chunk = framed.readSlice(length: min(chunkSize, framed.readableBytes))!  // length checked
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) {
                    context.writeAndFlush(NIOAny(chunk), promise: nil)
                }
                delay = delay + interval
            }
        case .silent:
            break
        case .resetOnRequest:
            // SO_LINGER with a zero timeout turns close() into an RST.
            (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                .assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
        case .writeThenClose(let bytes):
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes))).assumeIsolated()
                .whenComplete { _ in
                    context.close(promise: nil)
                }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, event == .inputClosed else { return }
        halfClosed = true
        switch behavior {
        case .answerAfterHalfClose(let reply):
            for request in held { write(reply(request), context: context) }
            held = []
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated()
                .whenComplete { _ in
                    context.close(promise: nil)
                }
        case .dropReplyOnHalfClose:
            context.close(promise: nil)
        case .answer:
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0))).assumeIsolated()
                .whenComplete { _ in
                    context.close(promise: nil)
                }
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func write(_ reply: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: reply.count + 4)
        try! buffer.writeFrame(reply, spec: format.reply)  // test replies always fit their framing
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}

@available(*, unavailable)
extension ScriptedDeviceHandler: Sendable {}

/// A listening socket that never accepts, with its accept queue already full, so further SYNs are dropped and
/// connection attempts hang until the client's connect timeout.
public final class BlackHoleListener: Sendable {
    public let port: Int
    private let descriptors: [Int32]

    public init() throws {
        var (listener, address, port) = try LoopbackSocket.bound()
        guard listen(listener, 0) == 0 else {
            let code = errno
            close(listener)
            throw IOError(errnoCode: code, reason: "black hole listen")
        }
        self.port = port
        // Fill the accept queue (backlog 0 holds one connection); later SYNs are dropped, not refused.
        var fillers: [Int32] = []
        for _ in 0..<2 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(filler, F_SETFL, O_NONBLOCK)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            fillers.append(filler)
        }
        descriptors = [listener] + fillers
    }

    deinit {
        for descriptor in descriptors { close(descriptor) }
    }
}
