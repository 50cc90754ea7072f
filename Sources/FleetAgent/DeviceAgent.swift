import FleetFraming
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

/// The device side: accepts connections, decodes command frames, answers each with exactly one reply, in
/// order, in a single write with its terminator.
///
/// ```swift
/// var router = CommandRouter.builtins
/// router.on(prefix: "SET TEMP") { request in .text("OK temp=\(request.arguments.first ?? "?")") }
/// let agent = DeviceAgent(configuration: .init(listen: [.init(host: "0.0.0.0", port: 9100)]),
///                         router: router, logger: Logger(label: "agent"))
/// try await ServiceGroup(services: [agent], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
///
/// It is a swift-service-lifecycle `Service`: on graceful shutdown it stops accepting, closes idle
/// connections, lets in-flight commands finish and reply (for at most `shutdownGracePeriod`), then returns.
/// Clients that half-close after sending (the seed article's) still get every reply.
public struct DeviceAgent: Service {
    /// The version the `VERSION` builtin reports.
    public static let version = "0.1.0"

    public let configuration: Configuration
    public let router: CommandRouter
    /// Live counters (also behind the `STATS` builtin).
    public let stats: AgentStats
    private let logger: Logger
    private let group: any EventLoopGroup
    private let variables: [String: String]
    private let onRunning: @Sendable ([SocketAddress]) async -> Void

    /// - Parameters:
    ///   - configuration: listen addresses, framing, limits.
    ///   - router: the command table. Default: the builtins.
    ///   - logger: where start/stop, errors and the per-command audit line go.
    ///   - stats: counters to update (pass one to share it). Default: a new one.
    ///   - variables: extra `{name}` values for static replies.
    ///   - eventLoopGroup: default: NIO's singleton.
    ///   - onRunning: called once every listener is bound, with the bound addresses.
    public init(
        configuration: Configuration = Configuration(),
        router: CommandRouter = .builtins,
        logger: Logger,
        stats: AgentStats = AgentStats(),
        variables: [String: String] = [:],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onRunning: @escaping @Sendable ([SocketAddress]) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.router = router
        self.logger = logger
        self.stats = stats
        self.variables = variables
        self.group = eventLoopGroup
        self.onRunning = onRunning
    }

    /// An agent that sends every command to one handler.
    public init(configuration: Configuration = Configuration(), logger: Logger, handler: @escaping AgentHandler) {
        var router = CommandRouter()
        router.add(
            CommandRouter.Route(
                matcher: .pattern("(?s).*", CommandRouter.PatternBox(regex: try! Regex("(?s).*"))),
                action: .handler(handler), name: "handler"))  // a constant, valid pattern
        self.init(configuration: configuration, router: router, logger: logger)
    }

    private enum Accepted: Sendable {
        case connection(NIOAsyncChannel<AgentInbound, ByteBuffer>, peer: String)
        case refused
    }

    public func run() async throws {
        let responder = AgentResponder(
            router: router, configuration: configuration, stats: stats, startedAt: .now,
            execSlots: AsyncSemaphore(value: max(1, configuration.limits.maxConcurrentExecs)), logger: logger,
            variables: variables
        )
        let limiter = ConnectionLimiter(
            maxTotal: configuration.limits.maxConnections, maxPerSource: configuration.limits.maxConnectionsPerSource)
        let registry = ConnectionRegistry()
        let ids = NIOLockedValueBox(0)
        var listeners: [NIOAsyncChannel<Accepted, Never>] = []
        do {
            for address in configuration.listen {
                listeners.append(try await bind(address, limiter: limiter))
            }
        } catch {
            for listener in listeners { try? await listener.channel.close() }
            throw error
        }
        let bound = listeners.compactMap(\.channel.localAddress)
        let servers = listeners
        logger.info(
            "agent started",
            metadata: ["listen": "\(bound.map(Self.describe))", "framing": "\(configuration.format.name)"])
        await onRunning(bound)

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for listener in servers {
                    group.addTask {
                        try await withThrowingDiscardingTaskGroup { connections in
                            try await listener.executeThenClose { inbound in
                                for try await accepted in inbound {
                                    guard case .connection(let connection, let peer) = accepted else { continue }
                                    let id = ids.withLockedValue { value in
                                        value += 1
                                        return value
                                    }
                                    connections.addTask {
                                        await serve(
                                            connection, id: id, peer: peer, responder: responder, registry: registry)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            logger.info("agent stopping", metadata: ["busy": "\(registry.busyCount)"])
            for listener in servers { listener.channel.close(promise: nil) }
            let (idle, all) = registry.beginShutdown()
            for channel in idle { channel.close(promise: nil) }
            // In-flight commands get the grace period; then every connection is closed.
            group.next().scheduleTask(in: TimeAmount(configuration.shutdownGracePeriod)) {
                for channel in all { channel.close(promise: nil) }
            }
        }
        logger.info("agent stopped")
    }

    private func bind(
        _ address: ListenAddress, limiter: ConnectionLimiter
    ) async throws -> NIOAsyncChannel<Accepted, Never> {
        let configuration = self.configuration
        let stats = self.stats
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: address.host, port: address.port) { channel in
                let source = channel.remoteAddress?.ipAddress ?? "?"
                guard limiter.acquire(source) else {
                    stats.connectionRefused()
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededFuture(Accepted.refused)
                }
                stats.connectionOpened()
                channel.closeFuture.whenComplete { _ in
                    limiter.release(source)
                    stats.connectionClosed()
                }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: TimeAmount(configuration.limits.idleTimeout)))
                    try sync.addHandler(
                        AgentFramingHandler(
                            spec: configuration.format.request, maxFrameBytes: configuration.limits.maxFrameBytes,
                            frameTimeout: configuration.limits.frameTimeout, stats: stats
                        )
                    )
                    let connection = try NIOAsyncChannel<AgentInbound, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: false)
                    )
                    return Accepted.connection(connection, peer: channel.remoteAddress.map(Self.describe) ?? "?")
                }
            }
    }

    private func serve(
        _ connection: NIOAsyncChannel<AgentInbound, ByteBuffer>,
        id: Int,
        peer: String,
        responder: AgentResponder,
        registry: ConnectionRegistry
    ) async {
        guard registry.register(id, channel: connection.channel) else {
            try? await connection.channel.close()
            return
        }
        defer { registry.remove(id) }
        let allocator = connection.channel.allocator
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await batch in inbound {
                    guard registry.beginCommand(id) else { return }
                    // The replies of one batch leave in one buffer: one write(2) for a pipelined burst.
                    var replies = allocator.buffer(capacity: batch.frames.count * 16)
                    var stopping = false
                    for payload in batch.frames {
                        let reply = await responder.reply(to: payload, peer: peer, connectionID: id)
                        responder.encode(reply, into: &replies)
                        if registry.isShuttingDown {
                            stopping = true  // in-flight work is done; take no more of this batch
                            break
                        }
                    }
                    if batch.frameTooLarge, !stopping {
                        logger.notice("frame too large", metadata: ["peer": "\(peer)", "connection.id": "\(id)"])
                        responder.encode(.error("frame too large"), into: &replies)
                    }
                    if replies.readableBytes > 0 { try await outbound.write(replies) }
                    guard registry.endCommand(id), !batch.frameTooLarge else {
                        if batch.frameTooLarge { try await lingeringClose(connection.channel) }
                        return
                    }
                    // Let other connections' tasks run between batches.
                    await Task.yield()
                }
            }
        } catch {
            logger.debug("connection ended with an error", metadata: ["peer": "\(peer)", "error": "\(error)"])
        }
    }

    /// Closes like nginx's lingering close: send FIN after the last reply, keep reading (and discarding, the
    /// framing handler drops everything after an oversize frame) until the client closes or 2 s pass. Closing
    /// at once with unread input would make the kernel send RST, which can destroy the error reply in flight.
    private func lingeringClose(_ channel: any Channel) async throws {
        try await channel.close(mode: .output)
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        try? await channel.closeFuture.get()
        deadline.cancel()
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
