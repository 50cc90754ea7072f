import FleetCodec
import FleetFraming
public import NIOCore

/// What a device does on a new connection before it takes commands: greet, exchange a handshake, ask for a login.
/// The simulator uses it to behave like the device families of ``DevicePreset`` (PJLink, Epson ESC/VP.net).
public struct AgentSession: Sendable, Hashable {
    /// Written as soon as the connection is up (PJLink without a password: `PJLINK 0` CR).
    public var greeting: [UInt8]?
    /// The hello the client must send first, and the reply it gets when the hello matches.
    public var handshake: [UInt8]?
    public var handshakeReply: [UInt8]
    /// The reply to a hello that does not match, or to every hello when ``refusesHandshake``; then the connection
    /// closes.
    public var handshakeRefusal: [UInt8]
    public var refusesHandshake: Bool
    /// PJLink class 1 login: greet with `PJLINK 1 RANDOM` CR and require MD5(RANDOM + password) before the first
    /// command; a wrong digest gets `PJLINK ERRA` CR and the connection closes.
    public var pjlinkPassword: String?
    /// Epson ESC/VP.net (``EscVpNet``): the client's CONNECT is answered with a status: 0x20 OK, 0x41 when
    /// ``escvpnetPassword`` is set and the CONNECT carries none, 0x43 when it carries another, 0x53 (busy) when
    /// ``refusesHandshake``, 0x40 for anything that is not a CONNECT. On any status but OK the connection closes.
    public var isEscVpNet: Bool
    public var escvpnetPassword: String?
    /// Bytes that mark a job's start and end wherever they appear in the stream (HP PJL's UEL): taken out before
    /// framing, each one reported to the next handlers as a ``JobMarker`` event.
    public var jobMarker: [UInt8]?

    /// The user event for each ``jobMarker`` taken out of the stream, in order with the bytes around it.
    public struct JobMarker: Sendable, Hashable {}

    public init(
        greeting: [UInt8]? = nil, handshake: [UInt8]? = nil, handshakeReply: [UInt8] = [],
        handshakeRefusal: [UInt8] = [], refusesHandshake: Bool = false, pjlinkPassword: String? = nil,
        isEscVpNet: Bool = false, escvpnetPassword: String? = nil, jobMarker: [UInt8]? = nil
    ) {
        self.jobMarker = jobMarker.flatMap { $0.isEmpty ? nil : $0 }
        self.isEscVpNet = isEscVpNet
        self.escvpnetPassword = escvpnetPassword
        self.greeting = greeting
        self.handshake = handshake
        self.handshakeReply = handshakeReply
        self.handshakeRefusal = handshakeRefusal
        self.refusesHandshake = refusesHandshake
        self.pjlinkPassword = pjlinkPassword
    }
}

/// Runs an ``AgentSession`` on raw bytes in front of the framing handler, then passes everything through.
/// The agent and `fleetcmd listen` put it first in a connection's pipeline.
public final class AgentSessionHandler: ChannelInboundHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State { case handshake, login, open }

    private let session: AgentSession
    private var state: State
    private var pending: ByteBuffer?
    private var random = ""
    private var greeted = false
    private var markers: MarkerFilter?

    public init(session: AgentSession) {
        self.session = session
        self.markers = session.jobMarker.map(MarkerFilter.init(marker:))
        state =
            session.handshake != nil || session.isEscVpNet
            ? .handshake : (session.pjlinkPassword != nil ? .login : .open)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { greet(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        greet(context: context)
        context.fireChannelActive()
    }

    private func greet(context: ChannelHandlerContext) {
        guard !greeted else { return }
        greeted = true
        var text: [UInt8]? = session.greeting
        if session.pjlinkPassword != nil {
            random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            while random.count < 8 { random = "0" + random }
            text = Array("PJLINK 1 \(random)\r".utf8)
        }
        if let text {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: text)), promise: nil)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if state == .open, pending == nil {
            forward(chunk, context: context)
            return
        }
        if pending == nil { pending = chunk } else { pending!.writeBuffer(&chunk) }  // set just above when nil
        advance(context: context)
    }

    private func advance(context: ChannelHandlerContext) {
        guard var buffer = pending else { return }
        if state == .handshake, session.isEscVpNet {
            let request: EscVpNet.Packet
            switch EscVpNet.parse(buffer.readableBytesView) {
            case .needMore:
                if buffer.readableBytes > 16 + 255 * EscVpNet.headerLength {
                    refuse(
                        context: context, with: EscVpNet.packet(.connect, status: EscVpNet.Status.badRequest.rawValue))
                }
                return
            case .invalid:
                refuse(context: context, with: EscVpNet.packet(.connect, status: EscVpNet.Status.badRequest.rawValue))
                return
            case .packet(let packet):
                request = packet
            }
            buffer.moveReaderIndex(forwardBy: request.length)
            let status: EscVpNet.Status
            if request.type != EscVpNet.PacketType.connect.rawValue {
                status = .badRequest
            } else if session.refusesHandshake {
                status = .serviceUnavailable
            } else if let expected = session.escvpnetPassword {
                status = request.password == nil ? .unauthorized : (request.password == expected ? .ok : .forbidden)
            } else {
                status = .ok
            }
            guard status == .ok else {
                refuse(context: context, with: EscVpNet.packet(.connect, status: status.rawValue))
                return
            }
            context.writeAndFlush(
                wrapOutboundOut(
                    context.channel.allocator.buffer(bytes: EscVpNet.packet(.connect, status: status.rawValue))),
                promise: nil)
            state = .open
        }
        if state == .handshake, let hello = session.handshake {
            guard buffer.readableBytes >= hello.count else { return }
            let got = buffer.readBytes(length: hello.count) ?? []
            if got != hello || session.refusesHandshake {
                refuse(context: context, with: session.handshakeRefusal)
                return
            }
            context.writeAndFlush(
                wrapOutboundOut(context.channel.allocator.buffer(bytes: session.handshakeReply)), promise: nil)
            state = session.pjlinkPassword != nil ? .login : .open
        }
        if state == .login, let password = session.pjlinkPassword {
            let view = Array(buffer.readableBytesView)
            guard let end = view.firstIndex(of: 0x0D) else {
                pending = buffer
                if view.count > 4096 { refuse(context: context, with: Array("PJLINK ERRA\r".utf8)) }
                return
            }
            let expected = PJLinkLogin.digest(random: random, password: password)
            guard end >= expected.count, Array(view[0..<expected.count]) == expected else {
                refuse(context: context, with: Array("PJLINK ERRA\r".utf8))
                return
            }
            buffer.moveReaderIndex(forwardBy: expected.count)
            state = .open
        }
        pending = nil
        if state == .open, buffer.readableBytes > 0 { forward(buffer, context: context) }
        if state != .open { pending = buffer }
    }

    /// Passes bytes of the open session on, with job markers taken out and reported where they stood.
    private func forward(_ buffer: ByteBuffer, context: ChannelHandlerContext) {
        guard var filter = markers else {
            context.fireChannelRead(wrapInboundOut(buffer))
            return
        }
        let pieces = filter.filter(buffer.readableBytesView)
        markers = filter
        for piece in pieces {
            switch piece {
            case .bytes(let bytes):
                context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: bytes)))
            case .marker:
                context.fireUserInboundEventTriggered(AgentSession.JobMarker())
            }
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // At the end of input, bytes held back as the possible start of a marker are passed on.
        if let event = event as? ChannelEvent, event == .inputClosed, var filter = markers {
            let held = filter.flush()
            markers = filter
            if !held.isEmpty { context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: held))) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func refuse(context: ChannelHandlerContext, with reply: [UInt8]) {
        pending = nil
        state = .open
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

}
