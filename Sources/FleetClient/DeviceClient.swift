import FleetFraming
public import FleetTLS
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix

/// Sends commands to a device over one TCP connection and reads each reply until its terminator.
///
/// ```swift
/// let client = DeviceClient(configuration: .init(format: .escCR))
/// let exchange = await client.exchange([Array("STATUS".utf8)], with: DeviceAddress(host: "10.0.0.7"))
/// if let error = exchange.error { print(error) } else { print(exchange.replies[0].text) }
/// ```
///
/// Every call opens its own connection, writes the commands (pipelined when the reply framing allows), and
/// closes when every reply arrived or the first failure happened. Calls never throw: the ``Exchange`` carries
/// the replies that did arrive and the ``DeviceError`` that ended it, so nothing that was received is lost.
public struct DeviceClient: Sendable {
    public var configuration: Configuration
    private let group: any EventLoopGroup

    /// - Parameters:
    ///   - configuration: framing, timeouts and limits.
    ///   - eventLoopGroup: where connections run. Default: NIO's shared singleton group.
    public init(
        configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
    }

    /// Sends `commands` (unframed payloads) to `address` over one connection, in order, and collects the replies.
    ///
    /// - Parameter resolved: the socket address to connect to, skipping name resolution (the caller resolved it).
    public func exchange(
        _ commands: [[UInt8]], with address: DeviceAddress, resolved: SocketAddress? = nil
    ) async -> Exchange {
        // The future never fails: every failure is folded into the Exchange.
        (try? await exchangeFuture(commands, with: address, resolved: resolved).get())!
    }

    /// The event-loop form of ``exchange(_:with:)``, for callers that fan out thousands of conversations.
    ///
    /// - Parameters:
    ///   - resolved: the socket address to connect to, skipping name resolution (the caller resolved it).
    ///   - eventLoop: the loop to run on; default: the group's next.
    /// - Returns: a future that always succeeds with an ``Exchange``.
    public func exchangeFuture(
        _ commands: [[UInt8]],
        with address: DeviceAddress,
        resolved: SocketAddress? = nil,
        on eventLoop: (any EventLoop)? = nil
    ) -> EventLoopFuture<Exchange> {
        let loop = eventLoop ?? group.next()
        let promise = loop.makePromise(of: Exchange.self)
        let device = address.description
        let startedAt = ContinuousClock.now
        let configuration = self.configuration
        let connectTimeout = min(
            configuration.timeouts.connect, configuration.timeouts.total ?? configuration.timeouts.connect)
        guard !commands.isEmpty else {
            promise.succeed(
                Exchange(
                    device: device, commandCount: 0, replies: [], error: nil, connectDuration: nil,
                    totalDuration: .zero, leftoverBytes: 0))
            return promise.futureResult
        }

        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(TimeAmount(connectTimeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = configuration.tls {
                        try tls.addHandlers(
                            to: channel.pipeline.syncOperations, host: address.host, handshakeTimeout: connectTimeout)
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ExchangeHandler(
                            commands: commands, configuration: configuration, device: device,
                            startedAt: startedAt, promise: promise)
                    )
                }
            }
        bootstrap.connect(to: address, resolved: resolved).whenFailure { error in
            let classified = DeviceError.classify(
                error, device: device, connecting: true, connectTimeout: connectTimeout)
            promise.succeed(
                Exchange(
                    device: device, commandCount: commands.count, replies: [], error: classified, connectDuration: nil,
                    totalDuration: ContinuousClock.now - startedAt, leftoverBytes: 0)
            )
        }
        return promise.futureResult
    }

    /// Opens a connection and closes it at once: the `nc -z` check. Returns the connect time, or the error.
    public func probe(_ address: DeviceAddress) async -> Result<Duration, DeviceError> {
        await probeDetailed(address).map(\.connectDuration)
    }

    /// What a probe found: how long the connection (and TLS handshake) took, and the device's certificate.
    public struct ProbeResult: Sendable {
        /// Time to connect, TLS handshake included when TLS is on.
        public var connectDuration: Duration
        /// The device's certificate, when TLS is on.
        public var tls: TLSPeerSummary?
    }

    /// Opens a connection (and with TLS, completes the handshake and checks the certificate), then closes it
    /// without sending anything.
    public func probeDetailed(_ address: DeviceAddress) async -> Result<ProbeResult, DeviceError> {
        let startedAt = NIODeadline.now()
        let device = address.description
        let timeout = configuration.timeouts.connect
        let handshake = NIOLockedValueBox<EventLoopFuture<TLSPeerSummary>?>(nil)
        let tls = configuration.tls
        let bootstrap = ClientBootstrap(group: group).connectTimeout(TimeAmount(timeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let tls else { return }
                    let future = try tls.addProbeHandlers(
                        to: channel.pipeline.syncOperations, host: address.host, handshakeTimeout: timeout,
                        on: channel.eventLoop)
                    handshake.withLockedValue { $0 = future }
                }
            }
        do {
            let channel = try await bootstrap.connect(to: address).get()
            defer { channel.close(promise: nil) }
            var peer: TLSPeerSummary?
            if let future = handshake.withLockedValue({ $0 }) { peer = try await future.get() }
            let took = Duration.nanoseconds((NIODeadline.now() - startedAt).nanoseconds)
            return .success(ProbeResult(connectDuration: took, tls: peer))
        } catch {
            return .failure(DeviceError.classify(error, device: device, connecting: true, connectTimeout: timeout))
        }
    }
}

extension ClientBootstrap {
    /// Connects to a literal address directly (no resolver round trip), else by name.
    func connect(to address: DeviceAddress, resolved: SocketAddress? = nil) -> EventLoopFuture<any Channel> {
        if let target = resolved ?? (try? SocketAddress(ipAddress: address.host, port: address.port)) {
            return connect(to: target)
        }
        return connect(host: address.host, port: address.port)
    }
}
