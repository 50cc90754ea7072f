import NIOConcurrencyHelpers
import NIOCore

/// Counts open connections in total and per source address, refusing those past either limit at accept.
final class ConnectionLimiter: Sendable {
    /// A source address as a key: its bytes, not its text (no string made per connection). An IPv4 address and
    /// its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`, as a dual-stack listener sees it) are the same source.
    struct Source: Hashable, Sendable {
        private var high: UInt64 = 0
        private var low: UInt64 = 0

        init(_ address: SocketAddress?) {
            // sockaddr_in holds the address at byte 4, sockaddr_in6 at byte 8, both in network order.
            switch address {
            case .v4:
                address!.withSockAddr { pointer, _ in
                    let raw = UnsafeRawPointer(pointer)
                    low =
                        UInt64(UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
                        | 0xFFFF_0000_0000
                }
            case .v6:
                address!.withSockAddr { pointer, _ in
                    let raw = UnsafeRawPointer(pointer)
                    high = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
                    low = UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
                }
            case .unixDomainSocket, .none:
                break
            }
        }
    }

    private struct State {
        var total = 0
        var perSource: [Source: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private let maxTotal: Int
    private let maxPerSource: Int

    init(maxTotal: Int, maxPerSource: Int) {
        self.maxTotal = maxTotal
        self.maxPerSource = maxPerSource
    }

    /// Takes a slot for `source`, or returns `false` when a limit is reached.
    func acquire(_ source: Source) -> Bool {
        state.withLockedValue { state in
            guard state.total < maxTotal, state.perSource[source, default: 0] < maxPerSource else { return false }
            state.total += 1
            state.perSource[source, default: 0] += 1
            return true
        }
    }

    func release(_ source: Source) {
        state.withLockedValue { state in
            state.total -= 1
            let remaining = state.perSource[source, default: 1] - 1
            state.perSource[source] = remaining > 0 ? remaining : nil
        }
    }
}

/// A counting semaphore for async code (bounds concurrent exec handlers).
final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: NIOLockedValueBox<State>

    init(value: Int) { state = NIOLockedValueBox(State(available: value)) }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLockedValue { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func signal() {
        let next = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}

/// The open connections, for graceful shutdown: idle ones close at once, busy ones after their command.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        var channel: any Channel
        var isBusy = false
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        var isShuttingDown = false
        var drained: (@Sendable () -> Void)?
    }

    private let state = NIOLockedValueBox(State())

    /// Calls `action` once, when shutdown has begun and the last connection is gone (at once if there is none).
    func whenDrained(_ action: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { state -> Bool in
            if state.isShuttingDown, state.entries.isEmpty { return true }
            state.drained = action
            return false
        }
        if now { action() }
    }

    /// Returns `false` (and the caller closes the connection) when shutdown has begun.
    func register(_ id: Int, channel: any Channel) -> Bool {
        state.withLockedValue { state in
            guard !state.isShuttingDown else { return false }
            state.entries[id] = Entry(channel: channel)
            return true
        }
    }

    func remove(_ id: Int) {
        let drained = state.withLockedValue { state -> (@Sendable () -> Void)? in
            _ = state.entries.removeValue(forKey: id)
            guard state.isShuttingDown, state.entries.isEmpty, let drained = state.drained else { return nil }
            state.drained = nil
            return drained
        }
        drained?()
    }

    /// Marks a command as started; returns `false` when shutdown has begun (take no new commands), unless the
    /// command was already received (`draining`): frames a connection has read are answered within the grace.
    func beginCommand(_ id: Int, draining: Bool = false) -> Bool {
        state.withLockedValue { state in
            guard !state.isShuttingDown || draining else { return false }
            state.entries[id]?.isBusy = true
            return true
        }
    }

    /// Marks a command as finished; returns `false` when shutdown began meanwhile (close after this reply).
    func endCommand(_ id: Int) -> Bool {
        state.withLockedValue { state in
            state.entries[id]?.isBusy = false
            return !state.isShuttingDown
        }
    }

    /// Begins shutdown: returns the idle connections (to close now) and all of them (to close after the grace).
    func beginShutdown() -> (idle: [any Channel], all: [any Channel]) {
        let (result, drained) = state.withLockedValue {
            state -> ((idle: [any Channel], all: [any Channel]), (@Sendable () -> Void)?) in
            state.isShuttingDown = true
            let idle = state.entries.values.filter { !$0.isBusy }.map(\.channel)
            var drained: (@Sendable () -> Void)?
            if state.entries.isEmpty {
                drained = state.drained
                state.drained = nil
            }
            return ((idle, state.entries.values.map(\.channel)), drained)
        }
        drained?()
        return result
    }

    var isShuttingDown: Bool { state.withLockedValue { $0.isShuttingDown } }

    var busyCount: Int { state.withLockedValue { $0.entries.values.filter(\.isBusy).count } }

    /// Connections open.
    var count: Int { state.withLockedValue { $0.entries.count } }
}

/// Connections the agent holds but does not serve (a policy's ``Admission/neverRead``), closed at shutdown.
final class ParkedChannels: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLockedValue { $0[key] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.channels.withLockedValue { $0.removeValue(forKey: key) } }
    }

    func closeAll() {
        for channel in channels.withLockedValue({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// Closes a connection when `IdleStateHandler` reports it idle (for connections nothing else reads).
final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
