import NIOConcurrencyHelpers
import NIOCore

/// On a listener's first socket when it has one per event loop (``DeviceAgent/Configuration/acceptsOnEveryLoop``):
/// closing it closes the other sockets first and completes once they are all closed, so a listener closed is closed
/// for good, on every loop, when its close completes.
final class SiblingListenersCloser: ChannelOutboundHandler, Sendable {
    typealias OutboundIn = Never

    private let siblings: NIOLockedValueBox<[any Channel]>

    init(siblings: NIOLockedValueBox<[any Channel]>) { self.siblings = siblings }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        let closing = siblings.withLockedValue { siblings in
            defer { siblings.removeAll() }
            return siblings.map { $0.close() }
        }
        guard !closing.isEmpty else { return context.close(mode: mode, promise: promise) }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        EventLoopFuture.andAllComplete(closing, on: context.eventLoop).whenComplete { _ in
            bound.value.close(mode: mode, promise: promise)
        }
    }
}
