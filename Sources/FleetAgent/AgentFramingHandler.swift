import FleetCodec
import FleetFraming
import NIOCore

/// What the framing stage hands to a connection's command loop.
enum AgentInbound: Sendable {
    /// One complete request frame (payload only).
    case frame(ByteBuffer)
    /// A frame passed the size limit; the connection answers `ERR frame too large` and closes.
    case frameTooLarge
}

/// Turns request bytes into frames under hard limits, before anything is handed to async code.
///
/// - Garbage outside a frame (bytes before the prefix) is dropped as it arrives and counted.
/// - A frame larger than `maxFrameBytes` ends decoding: everything after it is dropped unread, so the agent
///   never buffers more than the limit plus one read.
/// - A frame that has started must finish within `frameTimeout` (slowloris); otherwise the connection closes.
/// - No bytes for `idleTimeout` (an `IdleStateHandler` in front signals it) closes the connection.
/// - Bytes of an unfinished frame at end of input are counted and dropped; an until-close frame is delivered.
final class AgentFramingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = AgentInbound

    private var scanner: FrameScanner
    private var pending: ByteBuffer?
    private var isDiscarding = false
    private var frameTimer: Scheduled<Void>?
    private let frameTimeout: TimeAmount
    private let stats: AgentStats

    init(spec: FrameSpec, maxFrameBytes: Int, frameTimeout: Duration, stats: AgentStats) {
        scanner = FrameScanner(spec: spec, maxFrameBytes: maxFrameBytes)
        self.frameTimeout = TimeAmount(frameTimeout)
        self.stats = stats
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isDiscarding else { return }
        var chunk = unwrapInboundIn(data)
        if pending == nil {
            pending = chunk
        } else {
            pending!.writeBuffer(&chunk)  // non-nil: checked just above
        }
        var completedAny = false
        while var buffer = pending {
            pending = nil  // keep the buffer uniquely referenced while scanning
            let scanned: ScannedFrame
            do {
                scanned = try buffer.readFrame(using: &scanner)
            } catch {
                stats.error(.tooLarge)
                isDiscarding = true
                cancelFrameTimer()
                context.fireChannelRead(wrapInboundOut(.frameTooLarge))
                return
            }
            if scanned.skipped > 0 { stats.garbageDiscarded(scanned.skipped) }
            pending = buffer.readableBytes > 0 ? buffer : nil
            guard let payload = scanned.payload else { break }
            completedAny = true
            stats.frameReceived()
            context.fireChannelRead(wrapInboundOut(.frame(payload)))
        }
        if completedAny { cancelFrameTimer() }
        if pending != nil, frameTimer == nil {
            frameTimer = context.eventLoop.assumeIsolated().scheduleTask(in: frameTimeout) { [self] in
                stats.error(.frameTimeout)
                frameTimer = nil
                context.close(promise: nil)
            }
        } else if pending == nil {
            cancelFrameTimer()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            stats.error(.idleTimeout)
            context.close(promise: nil)
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed { endOfInput(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelFrameTimer()
        context.fireChannelInactive()
    }

    private func endOfInput(context: ChannelHandlerContext) {
        cancelFrameTimer()
        guard !isDiscarding, var buffer = pending else { return }
        pending = nil
        do {
            let scanned = try buffer.readLastFrame(using: &scanner)
            if let payload = scanned.payload {
                stats.frameReceived()
                context.fireChannelRead(wrapInboundOut(.frame(payload)))
            } else if scanned.skipped > 0 {
                stats.garbageDiscarded(scanned.skipped)
            }
        } catch {
            if error.code == .frameTooLarge {
                stats.error(.tooLarge)
                context.fireChannelRead(wrapInboundOut(.frameTooLarge))
            } else {
                stats.error(.incompleteFrame)
            }
        }
    }

    private func cancelFrameTimer() {
        frameTimer?.cancel()
        frameTimer = nil
    }
}

@available(*, unavailable)
extension AgentFramingHandler: Sendable {}
