import FleetFraming
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetAgent

/// The agent's channel handlers on an `EmbeddedChannel`: no socket, time advanced by hand.
@Suite struct AgentHandlerEmbeddedTests {
    /// Sits at the head of the pipeline and records what the handlers ask of the socket.
    final class SocketSpy: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var reads = 0
        var closes: [CloseMode] = []

        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            closes.append(mode)
            if mode == .output {
                promise?.succeed()  // EmbeddedChannel cannot half-close: the spy records it and keeps the channel
            } else {
                context.close(mode: mode, promise: promise)
            }
        }
    }

    private func agentChannel(maxFrame: Int = 64) throws -> (EmbeddedChannel, SocketSpy) {
        let channel = EmbeddedChannel()
        let spy = SocketSpy()
        let stats = AgentStats()
        let responder = AgentResponder(
            router: .builtins, configuration: .init(), stats: stats, startedAt: .now,
            execSlots: AsyncSemaphore(value: 1),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            variables: [:])
        let shared = AgentConnectionHandler.Context(
            responder: responder, registry: ConnectionRegistry(), spec: FrameFormat.escCR.reply, spawn: { _ in false },
            logLimiter: LogRateLimiter())
        let pipeline = channel.pipeline.syncOperations
        try pipeline.addHandler(spy)
        try pipeline.addHandler(
            AgentFramingHandler(
                spec: FrameFormat.escCR.request, maxFrameBytes: maxFrame, frameTimeout: .seconds(5), stats: stats))
        try pipeline.addHandler(AgentConnectionHandler(context: shared, id: 1, listener: 0))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9100)).wait()
        return (channel, spy)
    }

    final class NeverInactive: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        func channelInactive(context: ChannelHandlerContext) {}
    }

    /// A connection the kernel resets while NIO sets it up closes without ever having been active (no
    /// channelInactive). Its registry entry must still go, or a stopping agent waits for it forever.
    @Test func aConnectionClosedBeforeItWasActiveLeavesTheRegistry() throws {
        let channel = EmbeddedChannel()
        let registry = ConnectionRegistry()
        let responder = AgentResponder(
            router: .builtins, configuration: .init(), stats: AgentStats(), startedAt: .now,
            execSlots: AsyncSemaphore(value: 1),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), variables: [:])
        let shared = AgentConnectionHandler.Context(
            responder: responder, registry: registry, spec: FrameFormat.escCR.reply, spawn: { _ in false },
            logLimiter: LogRateLimiter())
        // NIO closes such a channel without channelInactive; EmbeddedChannel always sends one, so a handler in
        // front of the agent's swallows it here.
        try channel.pipeline.syncOperations.addHandler(NeverInactive())
        try channel.pipeline.syncOperations.addHandler(AgentConnectionHandler(context: shared, id: 7, listener: 0))
        #expect(registry.count == 1)
        try channel.close().wait()
        channel.embeddedEventLoop.run()
        #expect(registry.count == 0)
        let drained = NIOLockedValueBox(false)
        registry.whenDrained { drained.withLockedValue { $0 = true } }
        _ = registry.beginShutdown()
        #expect(drained.withLockedValue { $0 })
    }

    private func frame(_ text: String) -> ByteBuffer { ByteBuffer(bytes: [0x1B] + Array(text.utf8) + [0x0D]) }

    private func written(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var out: [UInt8] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            out += buffer.readBytes(length: buffer.readableBytes)!
        }
        return out
    }

    @Test func pipelinedFramesInOneReadGetTheirRepliesInOneWrite() throws {
        let (channel, _) = try agentChannel()
        var both = frame("PING")
        var echo = frame("ECHO hi")
        both.writeBuffer(&echo)
        try channel.writeInbound(both)
        let first = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(first.readableBytesView) == Array("PONG\0hi\0".utf8))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)  // one write for the batch
        _ = try channel.finish()
    }

    @Test func noReadWhileTheSocketCannotTakeMoreOutput() throws {
        let (channel, spy) = try agentChannel()
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        let before = spy.reads
        channel.read()
        #expect(spy.reads == before, "read while the client does not take its replies")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(spy.reads == before + 1, "the held read goes out once the socket drains")
        _ = try channel.finish()
    }

    @Test func anOversizeFrameGetsItsErrorThenALingeringClose() throws {
        let (channel, spy) = try agentChannel(maxFrame: 16)
        try channel.writeInbound(frame("PING"))
        #expect(try written(channel) == Array("PONG\0".utf8))
        try channel.writeInbound(frame(String(repeating: "X", count: 40)))
        #expect(try written(channel) == Array("ERR frame too large\0".utf8))
        // FIN after the error reply, and the connection stays open to drain what the client still sends…
        #expect(spy.closes == [.output])
        #expect(channel.isActive)
        try channel.writeInbound(frame("PING"))
        #expect(try written(channel).isEmpty)  // discarded, not answered
        // …for two seconds at most.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(!channel.isActive)
        #expect(spy.closes == [.output, .all])
    }

    @Test func aHalfClosedClientGetsEveryReplyThenTheClose() throws {
        let (channel, spy) = try agentChannel()
        try channel.writeInbound(frame("PING"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try written(channel) == Array("PONG\0".utf8))
        #expect(!channel.isActive)
        #expect(spy.closes == [.all])
    }
}
