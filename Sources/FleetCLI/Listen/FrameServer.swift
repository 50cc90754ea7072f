import FleetAgent
import FleetCodec
import FleetFraming
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A framing-aware TCP listener: speaks the device family's session if it has one, decodes request frames,
/// reports every event, and answers each frame with whatever `respond` returns (framed as a reply, terminator
/// included, in one write).
///
/// It serves `fleetcmd listen` (the `nc -l` job) and the built-in demo device. Half-closed clients, like the
/// seed article's, still get every reply before the connection is closed.
struct FrameServer {
    struct Event: Sendable {
        enum Kind: Sendable {
            case opened
            case frame(payload: [UInt8], skippedBytes: Int, number: Int)
            /// Bytes outside any frame after the last one, counted when the connection ended.
            case discarded(bytes: Int)
            /// The session's job marker (HP PJL's UEL), taken out of the stream between frames.
            case jobMarker([UInt8])
            case error(String)
            case closed(frames: Int)
        }
        var kind: Kind
        var connection: Int
        var peer: String
    }

    let channel: any Channel
    var boundAddress: SocketAddress { channel.localAddress! }  // a bound server channel always has one

    static func start(
        host: String,
        port: Int,
        format: FrameFormat,
        maxFrameBytes: Int,
        session: AgentSession? = nil,
        respond: @escaping @Sendable ([UInt8]) -> [UInt8]?,
        onEvent: @escaping @Sendable (Event) -> Void
    ) async throws -> FrameServer {
        let counter = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                let number = counter.withLockedValue { value in
                    value += 1
                    return value
                }
                return child.eventLoop.makeCompletedFuture {
                    // The device family's session first (a PJLink greeting, the ESC/VP.net CONNECT), as the
                    // simulator speaks it.
                    if let session {
                        try child.pipeline.syncOperations.addHandler(AgentSessionHandler(session: session))
                    }
                    try child.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(FrameDecoder(spec: format.request, maxFrameBytes: maxFrameBytes)))
                    try child.pipeline.syncOperations.addHandler(
                        FrameServerHandler(
                            connection: number, replySpec: format.reply, jobMarker: session?.jobMarker ?? [],
                            respond: respond, onEvent: onEvent)
                    )
                }
            }
            .bind(host: host, port: port).get()
        return FrameServer(channel: channel)
    }

    func close() async {
        try? await channel.close()
    }
}

final class FrameServerHandler: ChannelInboundHandler {
    typealias InboundIn = DecodedFrame
    typealias OutboundOut = ByteBuffer

    private let connection: Int
    private let replySpec: FrameSpec
    private let jobMarker: [UInt8]
    private let respond: @Sendable ([UInt8]) -> [UInt8]?
    private let onEvent: @Sendable (FrameServer.Event) -> Void
    private var peer = "?"
    private var frames = 0
    private var lastWrite: EventLoopFuture<Void>?

    init(
        connection: Int, replySpec: FrameSpec, jobMarker: [UInt8] = [],
        respond: @escaping @Sendable ([UInt8]) -> [UInt8]?, onEvent: @escaping @Sendable (FrameServer.Event) -> Void
    ) {
        self.connection = connection
        self.replySpec = replySpec
        self.jobMarker = jobMarker
        self.respond = respond
        self.onEvent = onEvent
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress.map(SocketAddressText.describe) ?? "?"
        onEvent(.init(kind: .opened, connection: connection, peer: peer))
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if frame.isTrailingDiscard {
            onEvent(.init(kind: .discarded(bytes: frame.skippedBytes), connection: connection, peer: peer))
            return
        }
        frames += 1
        let payload = Array(frame.payload.readableBytesView)
        onEvent(
            .init(
                kind: .frame(payload: payload, skippedBytes: frame.skippedBytes, number: frames),
                connection: connection, peer: peer))
        guard let reply = respond(payload) else { return }
        var buffer = context.channel.allocator.buffer(capacity: reply.count + 8)
        do {
            try buffer.writeFrame(reply, spec: replySpec)
        } catch {
            onEvent(.init(kind: .error("cannot frame reply: \(error)"), connection: connection, peer: peer))
            return
        }
        lastWrite = context.writeAndFlush(wrapOutboundOut(buffer))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is AgentSession.JobMarker {
            onEvent(.init(kind: .jobMarker(jobMarker), connection: connection, peer: peer))
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The client half-closed: finish writing what we owe it, then close.
            if let lastWrite {
                lastWrite.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        onEvent(.init(kind: .closed(frames: frames), connection: connection, peer: peer))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let message: String
        if let error = error as? FramingError, error.code == .incompleteFrame {
            message = "connection ended inside a frame (got \(error.byteCount) bytes, \(error.detail))"
        } else {
            message = ErrorText.describe(error)
        }
        onEvent(.init(kind: .error(message), connection: connection, peer: peer))
        context.close(promise: nil)
    }

}

@available(*, unavailable)
extension FrameServerHandler: Sendable {}
