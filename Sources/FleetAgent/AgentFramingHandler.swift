import FleetCodec
import FleetFraming
public import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the framing stage hands to a connection's command loop: every frame completed by one read, at once.
///
/// Batching per read (rather than per frame) means one hop to async code and one `write(2)` for the replies
/// of a whole pipelined burst, and bounds the work any one connection does per turn.
public struct AgentInbound: Sendable {
    /// Complete request frames (payloads only), in order.
    public var frames: [ByteBuffer]
    /// A frame after these passed the size limit: answer these, then `ERR frame too large`, then close.
    public var frameTooLarge: Bool

    public init(frames: [ByteBuffer], frameTooLarge: Bool) {
        self.frames = frames
        self.frameTooLarge = frameTooLarge
    }
}

/// Turns request bytes into frames under hard limits, before anything is handed to async code.
///
/// - Garbage outside a frame (bytes before the prefix) is dropped as it arrives and counted.
/// - A frame larger than `maxFrameBytes` ends decoding: everything after it is dropped unread, so the agent
///   never buffers more than the limit plus one read.
/// - A frame that has started must finish within `frameTimeout` (slowloris); otherwise the connection closes.
/// - No bytes for `idleTimeout` closes the connection: the event loop's ``IdleSweep`` checks, or an
///   `IdleStateHandler` in front signals it when the connection's loop has no sweep.
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
    // Idle tracking with a sweep: reads set a flag; the sweep notes when it last saw none.
    private let sweep: IdleSweep.Loop?
    private var sweepSlot = -1
    private var readSinceSweep = false
    private var quietSince = NIODeadline.uptimeNanoseconds(0)
    private var context: ChannelHandlerContext?

    /// - Parameter sweep: the idle sweep of the connection's event loop; `nil` when an `IdleStateHandler` in
    ///   front reports idleness instead.
    init(spec: FrameSpec, maxFrameBytes: Int, frameTimeout: Duration, stats: AgentStats, sweep: IdleSweep.Loop? = nil) {
        scanner = FrameScanner(spec: spec, maxFrameBytes: maxFrameBytes)
        self.frameTimeout = TimeAmount(frameTimeout)
        self.stats = stats
        self.sweep = sweep
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let sweep else { return }
        self.context = context
        quietSince = context.eventLoop.now
        sweepSlot = sweep.join(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        leaveSweep()
    }

    private func leaveSweep() {
        guard let sweep, sweepSlot >= 0 else { return }
        sweep.leave(sweepSlot)
        sweepSlot = -1
        context = nil
    }

    /// For the sweep: `true` when nothing was read for `timeout` (as of the sweeps that saw no read).
    func isIdle(now: NIODeadline, timeout: TimeAmount) -> Bool {
        if readSinceSweep {
            readSinceSweep = false
            quietSince = now
            return false
        }
        return now - quietSince >= timeout
    }

    /// For the sweep: closes the idle connection.
    func closeIdle() {
        guard let context else { return }
        leaveSweep()
        stats.error(.idleTimeout)
        ConnectionClosing.timedOut(context.channel)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        readSinceSweep = true
        guard !isDiscarding else { return }
        var chunk = unwrapInboundIn(data)
        if pending == nil {
            pending = chunk
        } else {
            pending!.writeBuffer(&chunk)  // non-nil: checked just above
        }
        var frames: [ByteBuffer] = []
        // A local copy for the loop: passing the stored property `inout` for every frame was checked for exclusive
        // access at run time, per frame.
        var scanner = self.scanner
        while var buffer = pending {
            pending = nil  // keep the buffer uniquely referenced while scanning
            let scanned: ScannedFrame
            do {
                scanned = try buffer.readFrame(using: &scanner, keepingFrame: false)
            } catch {
                self.scanner = scanner
                stats.error(.tooLarge)
                isDiscarding = true
                cancelFrameTimer()
                stats.framesReceived(frames.count)
                context.fireChannelRead(wrapInboundOut(AgentInbound(frames: frames, frameTooLarge: true)))
                return
            }
            if scanned.skipped > 0 { stats.garbageDiscarded(scanned.skipped) }
            pending = buffer.readableBytes > 0 ? buffer : nil
            guard let payload = scanned.payload else { break }
            frames.append(payload)
        }
        self.scanner = scanner  // before anything else can run: the frames are handed on below
        if !frames.isEmpty {
            cancelFrameTimer()
            stats.framesReceived(frames.count)
            context.fireChannelRead(wrapInboundOut(AgentInbound(frames: frames, frameTooLarge: false)))
        }
        if pending != nil, frameTimer == nil {
            frameTimer = context.eventLoop.assumeIsolated().scheduleTask(in: frameTimeout) { [self] in
                stats.error(.frameTimeout)
                frameTimer = nil
                ConnectionClosing.timedOut(context.channel)
            }
        } else if pending == nil {
            cancelFrameTimer()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            stats.error(.idleTimeout)
            ConnectionClosing.timedOut(context.channel)
            return
        }
        if let event = event as? ChannelEvent, event == .inputClosed { endOfInput(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelFrameTimer()
        leaveSweep()
        context.fireChannelInactive()
    }

    private func endOfInput(context: ChannelHandlerContext) {
        cancelFrameTimer()
        guard !isDiscarding, var buffer = pending else { return }
        pending = nil
        do {
            let scanned = try buffer.readLastFrame(using: &scanner)
            if let payload = scanned.payload {
                stats.framesReceived(1)
                context.fireChannelRead(wrapInboundOut(AgentInbound(frames: [payload], frameTooLarge: false)))
            } else if scanned.skipped > 0 {
                stats.garbageDiscarded(scanned.skipped)
            }
        } catch {
            if error.code == .frameTooLarge {
                stats.error(.tooLarge)
                context.fireChannelRead(wrapInboundOut(AgentInbound(frames: [], frameTooLarge: true)))
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
