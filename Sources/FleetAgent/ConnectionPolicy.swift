import FleetCodec
public import FleetFraming
import NIOConcurrencyHelpers
public import NIOCore
import NIOPosix

/// Hooks that let a device misbehave on purpose: the simulator's faults live here, so that a simulated device
/// is served by the same ``DeviceAgent`` as a real one.
///
/// Every method but ``deliver(_:on:)`` runs on an event loop and must not block.
public protocol ConnectionPolicy: Sendable {
    /// Decides what happens to a connection accepted on listener `listener` (an index into
    /// ``DeviceAgent/Configuration/listen``).
    func admit(listener: Int) -> Admission
    /// An admitted connection (``Admission/serve`` or ``Admission/neverRead``) on `listener` closed.
    func connectionClosed(listener: Int)
    /// One request frame arrived on `listener` (counted before it is routed, whatever it holds).
    func frameReceived(listener: Int)
    /// Whether replies on `listener` go through ``deliver(_:on:)``. When `false`, the agent writes them itself on
    /// the event loop (its cheapest path) and reports them with ``repliesDelivered(listener:count:)``. Default:
    /// `true`, so that a policy that implements `deliver` is always asked.
    func usesDeliver(listener: Int) -> Bool
    /// `count` replies on `listener` were written by the agent (only when ``usesDeliver(listener:)`` is `false`).
    func repliesDelivered(listener: Int, count: Int)
    /// How long the agent waits before writing a batch's replies on `listener` (only when
    /// ``usesDeliver(listener:)`` is `false`): a slow device, without a task. Default: `nil`, at once.
    func replyDelay(listener: Int) -> Duration?
    /// More `{name}` values for static replies on connections from `listener` (a simulated device's name).
    func variables(listener: Int) -> [String: String]
    /// Writes the replies to one batch of requests. Return `false` to close the connection afterwards.
    ///
    /// The default behaviour is ``AgentConnection/writeFramed(_:)`` and `true`.
    func deliver(_ replies: [AgentReply], on connection: AgentConnection) async throws -> Bool
}

/// What to do with an accepted connection.
public enum Admission: Sendable, Hashable {
    /// Serve it as usual.
    case serve
    /// Close it at once (a device that allows one session at a time).
    case close
    /// Keep it open but never read from it (the client's writes eventually stall).
    case neverRead
}

/// One connection, as a ``ConnectionPolicy`` sees it when delivering replies.
public struct AgentConnection: Sendable {
    /// The listener that accepted it.
    public let listener: Int
    /// The agent's connection number.
    public let id: Int
    /// The agent's framing (encode replies with `format.reply`).
    public let format: FrameFormat
    let channel: any Channel
    let writer: NIOAsyncChannelOutboundWriter<ByteBuffer>
    let inputClosedPromise: EventLoopPromise<Void>

    /// A buffer to write into.
    public var allocator: ByteBufferAllocator { channel.allocator }

    /// Writes `bytes` and waits until they are flushed to the socket (or buffered by NIO).
    public func write(_ bytes: ByteBuffer) async throws {
        if bytes.readableBytes > 0 { try await writer.write(bytes) }
    }

    /// Writes every reply with its framing, in one write (a reply that contains the terminator is replaced by
    /// an error, as the agent always does).
    public func writeFramed(_ replies: [AgentReply]) async throws {
        try await write(framed(replies))
    }

    /// The replies with their framing, as ``writeFramed(_:)`` would write them.
    public func framed(_ replies: [AgentReply]) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: replies.count * 16)
        for reply in replies { buffer.writeReply(reply, spec: format.reply) }
        return buffer
    }

    /// Whether the client has half-closed (sent FIN) within `wait`; waits at most that long.
    public func inputClosed(within wait: TimeAmount) async -> Bool {
        let future = inputClosedPromise.futureResult
        let timer = channel.eventLoop.scheduleTask(in: wait) {}
        let closed: Bool = await withCheckedContinuation { continuation in
            let once = NIOLockedValueBox(false)
            let resume: @Sendable (Bool) -> Void = { value in
                let first = once.withLockedValue { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(returning: value) }
            }
            future.whenComplete { result in
                if case .success = result { resume(true) } else { resume(false) }
            }
            timer.futureResult.whenComplete { _ in resume(false) }
        }
        timer.cancel()
        return closed
    }

    /// Aborts the connection with a TCP reset (SO_LINGER 0, then close).
    public func reset() async {
        if let provider = channel as? any SocketOptionProvider {
            _ = try? await provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try? await channel.close()
    }

    /// Waits until the connection is closed (by the client, or by the agent's idle timeout).
    public func closed() async { try? await channel.closeFuture.get() }

    /// Closes the connection (FIN).
    public func close() async { try? await channel.close() }
}

/// Opens and closes an agent's listeners while it runs: a closed listener is a closed port (connections are
/// refused), as a device that is switched off or flapping.
public final class ListenerControl: Sendable {
    struct State {
        var channels: [Int: any Channel] = [:]
        var closed: Set<Int>
        var open: (@Sendable (Int) async throws -> any Channel)?
        var stopped = false
    }

    let state: NIOLockedValueBox<State>

    /// - Parameter closedAtStart: listeners (indexes into the configuration's `listen`) not to open at start.
    public init(closedAtStart: Set<Int> = []) {
        state = NIOLockedValueBox(State(closed: closedAtStart))
    }

    /// Whether listener `index` is open.
    public func isOpen(_ index: Int) -> Bool { state.withLockedValue { $0.channels[index] != nil } }

    /// Closes listener `index`; established connections stay.
    public func close(_ index: Int) async {
        let channel = state.withLockedValue { state -> (any Channel)? in
            state.closed.insert(index)
            return state.channels.removeValue(forKey: index)
        }
        try? await channel?.close()
    }

    /// Opens listener `index` again (no-op when it is open or the agent is not running).
    public func open(_ index: Int) async throws {
        let opener = state.withLockedValue { state -> (@Sendable (Int) async throws -> any Channel)? in
            guard state.channels[index] == nil, !state.stopped, let open = state.open else { return nil }
            state.closed.remove(index)
            return open
        }
        guard let opener else { return }
        let channel = try await opener(index)
        let keep = state.withLockedValue { state -> Bool in
            guard !state.stopped, state.channels[index] == nil else { return false }
            state.channels[index] = channel
            return true
        }
        if !keep { try? await channel.close() }
    }

    func started(_ channels: [Int: any Channel], open: @escaping @Sendable (Int) async throws -> any Channel) {
        state.withLockedValue { state in
            state.channels = channels
            state.open = open
            state.stopped = false
        }
    }

    /// Marks the agent stopped and returns every open listener, to close.
    func stop() -> [any Channel] {
        state.withLockedValue { state in
            state.stopped = true
            state.open = nil
            defer { state.channels = [:] }
            return Array(state.channels.values)
        }
    }

    var closedAtStart: Set<Int> { state.withLockedValue { $0.closed } }
}

/// Records that the client half-closed, for ``AgentConnection/inputClosed(within:)``.
final class InputClosedHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let promise: EventLoopPromise<Void>
    private var completed = false

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, !completed {
            completed = true
            promise.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !completed {
            completed = true
            promise.fail(ChannelError.alreadyClosed)
        }
        context.fireChannelInactive()
    }
}

extension ConnectionPolicy {
    public func admit(listener: Int) -> Admission { .serve }
    public func connectionClosed(listener: Int) {}
    public func frameReceived(listener: Int) {}
    public func variables(listener: Int) -> [String: String] { [:] }
    public func usesDeliver(listener: Int) -> Bool { true }
    public func repliesDelivered(listener: Int, count: Int) {}
    public func replyDelay(listener: Int) -> Duration? { nil }
    public func deliver(_ replies: [AgentReply], on connection: AgentConnection) async throws -> Bool {
        try await connection.writeFramed(replies)
        return true
    }
}
