import FleetCodec
import FleetFraming
import FleetTLS
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

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
    public static let version = FleetVersion.current

    public let configuration: Configuration
    public let router: CommandRouter
    /// Live counters (also behind the `STATS` builtin).
    public let stats: AgentStats
    private let logger: Logger
    /// Connection-level log lines (denied connections, failed handshakes) are rate limited; counters are not.
    private let logLimiter = LogRateLimiter()
    private let group: any EventLoopGroup
    private let variables: [String: String]
    private let onRunning: @Sendable ([SocketAddress]) async -> Void
    private let hooks: AgentConnectionHooks
    private let listenerControl: ListenerControl?
    private let tlsHolder = TLSHolder()

    /// - Parameters:
    ///   - configuration: listen addresses, framing, limits.
    ///   - router: the command table. Default: the builtins.
    ///   - logger: where start/stop, errors and the per-command audit line go.
    ///   - stats: counters to update (pass one to share it). Default: a new one.
    ///   - variables: extra `{name}` values for static replies.
    ///   - eventLoopGroup: default: NIO's singleton.
    ///   - hooks: how connections are admitted and which handlers they get besides the agent's (the simulator's
    ///     faults). Default: none.
    ///   - listenerControl: lets the caller close and reopen listeners while the agent runs. Default: none.
    ///   - onRunning: called once every listener is bound, with the bound addresses.
    public init(
        configuration: Configuration = Configuration(),
        router: CommandRouter = .builtins,
        logger: Logger,
        stats: AgentStats = AgentStats(),
        variables: [String: String] = [:],
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        hooks: AgentConnectionHooks = AgentConnectionHooks(),
        listenerControl: ListenerControl? = nil,
        onRunning: @escaping @Sendable ([SocketAddress]) async -> Void = { _ in }
    ) {
        self.hooks = hooks
        self.listenerControl = listenerControl
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

    /// Async work of an event-loop connection (an `exec` or async handler route), run in the agent's task group.
    private typealias Job = @Sendable () async -> Void

    /// Reads the TLS certificate, key and client CA files again (the daemon does this on SIGHUP): new connections
    /// get the new certificate, open ones keep theirs. On failure the previous files stay in use.
    /// - Returns: what is now loaded (names, key pin), or `nil` when the agent has no TLS listener or is not running.
    @discardableResult
    public func reloadTLS() throws -> String? {
        guard let tls = tlsHolder.value.withLockedValue({ $0 }) else { return nil }
        try tls.reload()
        logger.info("TLS certificate reloaded", metadata: ["certificate": "\(tls.summary)"])
        return tls.summary
    }

    public func run() async throws {
        if let index = configuration.listen.firstIndex(where: \.tls), configuration.tls == nil {
            throw TLSSetupError(
                "listener \(configuration.listen[index]) is TLS, but no certificate and key are configured")
        }
        let serverTLS = try configuration.tls.map(ServerTLS.init)
        tlsHolder.value.withLockedValue { $0 = serverTLS }
        defer { tlsHolder.value.withLockedValue { $0 = nil } }
        let exposed = Set(
            configuration.listen.indices.filter {
                !configuration.listen[$0].tls && !configuration.listen[$0].isLoopback
            })
        let tlsListeners = Set(configuration.listen.indices.filter { configuration.listen[$0].tls })
        let responder = AgentResponder(
            router: router, configuration: configuration, stats: stats, startedAt: .now,
            execSlots: AsyncSemaphore(value: max(1, configuration.limits.maxConcurrentExecs)), logger: logger,
            variables: variables, exposedPlaintextListeners: configuration.allowPlaintextExec ? [] : exposed,
            identityRequiredListeners: configuration.allowAnonymousExec ? [] : tlsListeners,
            listenerVariables: hooks.variables, audit: hooks.audit, auditWillReply: hooks.auditWillReply)
        let limiter = ConnectionLimiter(
            maxTotal: configuration.limits.maxConnections, maxPerSource: configuration.limits.maxConnectionsPerSource)
        let registry = ConnectionRegistry()
        let parked = ParkedChannels()
        let ids = NIOLockedValueBox(0)
        let control = listenerControl ?? ListenerControl()
        let listenersClosing = NIOLockedValueBox<[EventLoopFuture<Void>]>([])
        // Every listener feeds one stream of accepted connections: a listener costs one socket and no task,
        // so one agent can hold the thousands of listeners of a simulated fleet.
        let (jobs, sink) = AsyncStream<Job>.makeStream()
        let served = AgentConnectionHandler.Context(
            responder: responder, registry: registry, spec: configuration.format.reply,
            spawn: { job in
                if case .terminated = sink.yield(job) { return false }
                return true
            }, logLimiter: logLimiter)
        let sweep = IdleSweep(group: group, timeout: configuration.limits.idleTimeout)
        defer { sweep.stop() }
        let listen = configuration.listen
        let opener: @Sendable (Int) async throws -> any Channel = { index in
            do {
                return try await bind(index, limiter: limiter, parked: parked, served: served, ids: ids, sweep: sweep)
            } catch {
                throw ListenerBindError(listener: listen[index], underlying: error)
            }
        }
        let closedAtStart = control.closedAtStart
        let toOpen = configuration.listen.indices.filter { !closedAtStart.contains($0) }
        var channels: [Int: any Channel] = [:]
        do {
            // Bind in parallel, a bounded number at a time.
            for chunk in stride(from: 0, to: toOpen.count, by: 256) {
                let indexes = toOpen[chunk..<min(chunk + 256, toOpen.count)]
                try await withThrowingTaskGroup(of: (Int, any Channel).self) { group in
                    for index in indexes { group.addTask { (index, try await opener(index)) } }
                    for try await (index, channel) in group { channels[index] = channel }
                }
            }
        } catch {
            for channel in channels.values { try? await channel.close() }
            sink.finish()
            throw error
        }
        control.started(channels, open: opener)
        let bound = toOpen.compactMap { channels[$0]?.localAddress }
        logger.info(
            "agent started",
            metadata: [
                "listen":
                    "\(bound.prefix(8).map(SocketAddressText.describe))\(bound.count > 8 ? " and \(bound.count - 8) more" : "")",
                "framing": "\(configuration.format.name)",
            ])
        if let serverTLS {
            logger.info(
                "TLS ready",
                metadata: [
                    "certificate": "\(serverTLS.summary)",
                    "client_verification": "\(serverTLS.settings.clientVerification.rawValue)",
                ])
        }
        if router.hasExecRoutes {
            for warning in Self.execWarnings(configuration, exposed: exposed, tlsListeners: tlsListeners) {
                logger.warning("\(warning)")
            }
        }
        if !configuration.access.isEmpty {
            logger.info(
                "access list",
                metadata: [
                    "allow": "\(configuration.access.allow.map(\.description))",
                    "deny": "\(configuration.access.deny.map(\.description))",
                ])
        }
        await onRunning(bound)

        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await job in jobs { group.addTask { await job() } }
            }
        } onGracefulShutdown: {
            logger.info("agent stopping", metadata: ["busy": "\(registry.busyCount)"])
            let closing = control.stop().map { listener in listener.close() }
            listenersClosing.withLockedValue { $0 += closing }
            // Jobs of connections still answering may start until the last connection is gone; then the task
            // group ends (no polling).
            registry.whenDrained { sink.finish() }
            parked.closeAll()
            let (idle, all) = registry.beginShutdown()
            for channel in idle { channel.close(promise: nil) }
            // In-flight commands get the grace period; then every connection is closed.
            group.next().scheduleTask(in: TimeAmount(configuration.shutdownGracePeriod)) {
                for channel in all { channel.close(promise: nil) }
            }
        }
        for listener in control.stop() { try? await listener.close() }
        // Listeners closed at shutdown are closed for good before run() returns: a new connection is refused.
        for closing in listenersClosing.withLockedValue({ $0 }) { try? await closing.get() }
        logger.info("agent stopped")
    }

    /// Start-up warnings for every way an `exec` command can be reached without a verified client identity.
    static func execWarnings(_ configuration: Configuration, exposed: Set<Int>, tlsListeners: Set<Int>) -> [String] {
        func names(_ indices: some Sequence<Int>) -> String {
            let sorted = indices.sorted()
            return sorted.prefix(4).map { "\(configuration.listen[$0])" }.joined(separator: ", ")
                + (sorted.count > 4 ? " and \(sorted.count - 4) more" : "")
        }
        var warnings: [String] = []
        if !exposed.isEmpty {
            if configuration.allowPlaintextExec {
                warnings.append(
                    "exec commands are allowed on plaintext listeners that are not loopback (allow_plaintext_exec): anyone who can reach \(names(exposed)) can run them"
                )
            } else {
                warnings.append(
                    "exec commands are refused on plaintext listeners that are not loopback (\(names(exposed))): serve them over TLS with client certificates (tls: client_ca, client_verification: require), or set allow_plaintext_exec"
                )
            }
        }
        let verification = configuration.tls?.clientVerification ?? .none
        if !tlsListeners.isEmpty, verification != .require {
            if configuration.allowAnonymousExec {
                warnings.append(
                    "exec commands are allowed for TLS clients without a client certificate (allow_anonymous_exec, client_verification \(verification.rawValue)): anyone who can reach \(names(tlsListeners)) can run them"
                )
            } else {
                warnings.append(
                    "exec commands on \(names(tlsListeners)) are refused to clients without a verified client certificate (client_verification \(verification.rawValue)); set tls client_ca with client_verification: require, or allow_anonymous_exec"
                )
            }
        }
        let loopback = configuration.listen.indices.filter {
            !configuration.listen[$0].tls && configuration.listen[$0].isLoopback
        }
        if !loopback.isEmpty {
            warnings.append(
                "exec commands can be run without a client identity by any local user through the loopback listener \(names(loopback))"
            )
        }
        return warnings
    }

    private func bind(
        _ index: Int, limiter: ConnectionLimiter, parked: ParkedChannels,
        served: AgentConnectionHandler.Context, ids: NIOLockedValueBox<Int>, sweep: IdleSweep
    ) async throws -> any Channel {
        let configuration = self.configuration
        let stats = self.stats
        let hooks = self.hooks
        let logger = self.logger
        let logLimiter = self.logLimiter
        let address = configuration.listen[index]
        let tls = address.tls ? tlsHolder.value.withLockedValue({ $0 }) : nil
        let access = configuration.access
        let socketAddress: SocketAddress
        if let literal = try? SocketAddress(ipAddress: address.host, port: address.port) {
            socketAddress = literal  // no resolver round trip per listener
        } else {
            socketAddress = try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
        }
        /// The listener's bootstrap: options, and the pipeline every accepted connection gets.
        func bootstrap(group: any EventLoopGroup, childGroup: any EventLoopGroup, reusePort: Bool) -> ServerBootstrap {
            ServerBootstrap(group: group, childGroup: childGroup)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.socketOption(Self.reusePortOption), value: reusePort ? 1 : 0)
                .serverChannelOption(.backlog, value: 4096)
                // No child channel options: the bootstrap applies those through a chain of futures per connection
                // (6% of a short connection's CPU); the initializer sets them directly (`setConnectionOptions`). And
                // no TCP_NODELAY per connection: the bootstrap sets it on the listening socket, and accepted
                // sockets inherit it (a system call per connection saved; tested).
                .childChannelInitializer { channel in
                    if !access.isEmpty, !access.admits(channel.remoteAddress) {
                        stats.error(.accessDenied)
                        logLimiter.info(
                            logger, kind: "access_denied", "connection denied by the access list",
                            metadata: ["peer": "\(channel.remoteAddress.map(SocketAddressText.describe) ?? "?")"])
                        channel.close(promise: nil)
                        return channel.eventLoop.makeSucceededVoidFuture()
                    }
                    let admission = hooks.admit(channel, index)
                    if admission == .close {
                        stats.connectionRefused()
                        channel.close(promise: nil)
                        return channel.eventLoop.makeSucceededVoidFuture()
                    }
                    let source = ConnectionLimiter.Source(channel.remoteAddress)
                    guard limiter.acquire(source) else {
                        stats.connectionRefused()
                        channel.close(promise: nil)
                        return channel.eventLoop.makeSucceededVoidFuture()
                    }
                    stats.connectionOpened()
                    channel.closeFuture.whenComplete { _ in
                        limiter.release(source)
                        stats.connectionClosed()
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        try Self.setConnectionOptions(channel)
                        let sync = channel.pipeline.syncOperations
                        if let tls {
                            try tls.addHandlers(to: sync, handshakeTimeout: configuration.limits.frameTimeout)
                        }
                        if let session = configuration.session {
                            try sync.addHandler(AgentSessionHandler(session: session))
                        }
                        let loopSweep = sweep.loop(for: channel.eventLoop)
                        if loopSweep == nil || admission == .neverRead {
                            try sync.addHandler(IdleStateHandler(readTimeout: sweep.timeout))
                        }
                        if admission == .neverRead {
                            try sync.addHandler(CloseOnIdleHandler())
                            parked.add(channel)
                            channel.setOption(.autoRead, value: false).whenComplete { _ in }
                            return
                        }
                        let id = ids.withLockedValue { value in
                            value += 1
                            return value
                        }
                        try sync.addHandler(
                            AgentFramingHandler(
                                spec: configuration.format.request, maxFrameBytes: configuration.limits.maxFrameBytes,
                                frameTimeout: configuration.limits.frameTimeout, stats: stats, sweep: loopSweep))
                        try hooks.addHandlers(sync, index)
                        try sync.addHandler(AgentConnectionHandler(context: served, id: id, listener: index))
                    }
                }
        }

        let loops = configuration.acceptsOnEveryLoop ? Array(group.makeIterator()) : []
        guard loops.count > 1 else {
            return try await bootstrap(group: group, childGroup: group, reusePort: false).bind(to: socketAddress).get()
        }
        // One socket per loop on the same port (the first one's, when the port is 0); closing the first closes the
        // others before its close completes, so the listener is one channel to everything else. The first binds
        // without SO_REUSEPORT, so a port in use by anything (another agent included) fails as it always did; it
        // takes the option once bound, and only then do the others join it.
        let siblings = NIOLockedValueBox<[any Channel]>([])
        let first = try await bootstrap(group: loops[0], childGroup: loops[0], reusePort: false)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SiblingListenersCloser(siblings: siblings))
                }
            }
            .bind(to: socketAddress).get()
        do {
            try await first.setOption(.socketOption(Self.reusePortOption), value: 1).get()
            var boundAddress = socketAddress
            if let port = first.localAddress?.port { boundAddress.port = port }
            for loop in loops.dropFirst() {
                let sibling = try await bootstrap(group: loop, childGroup: loop, reusePort: true)
                    .bind(to: boundAddress).get()
                siblings.withLockedValue { $0.append(sibling) }
            }
        } catch {
            try? await first.close()
            throw error
        }
        return first
    }

    /// What every accepted connection is set to, directly on its (not yet registered) channel: the client may
    /// half-close and still read its replies; one read per loop turn (NIO's default is 4), so a client that sends
    /// a flood of frames gets one read's worth answered before the loop's other connections have their turn.
    static func setConnectionOptions(_ channel: any Channel) throws {
        guard let options = channel.syncOptions else {
            throw ChannelError.operationUnsupported  // every accepted TCP channel has them
        }
        try options.setOption(.allowRemoteHalfClosure, value: true)
        try options.setOption(.maxMessagesPerRead, value: 1)
    }

    /// `SO_REUSEPORT`, which NIO names no constant for.
    private static let reusePortOption = NIOBSDSocket.Option(rawValue: SO_REUSEPORT)

}

/// The running agent's TLS context, shared with ``DeviceAgent/reloadTLS()`` (the agent is a struct).
final class TLSHolder: Sendable {
    let value = NIOLockedValueBox<ServerTLS?>(nil)
}
