import FleetAgent
import FleetClient
import FleetFraming
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// Runs `agent` in a task, hands its first bound port to `body`, then shuts it down gracefully.
func withRunningAgent<T: Sendable>(
    configuration: DeviceAgent.Configuration = .init(listen: [.init(host: "127.0.0.1", port: 0)]),
    router: CommandRouter = .builtins,
    eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
    hooks: AgentConnectionHooks = AgentConnectionHooks(),
    _ body: @Sendable (Int, DeviceAgent) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let agent = DeviceAgent(
        configuration: configuration, router: router,
        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), eventLoopGroup: eventLoopGroup,
        hooks: hooks
    ) { addresses in
        continuation.yield(addresses.first?.port ?? 0)
        continuation.finish()
    }
    return try await testGracefulShutdown { trigger in
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await agent.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let result = try await body(port, agent)
            trigger.triggerGracefulShutdown()
            for try await value in group where value != nil {}
            return result
        }
    }
}

private func text(_ value: String) -> [UInt8] { Array(value.utf8) }

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

@Suite struct DeviceAgentTests {
    private let client = DeviceClient(configuration: .init(timeouts: .init(connect: .seconds(5), reply: .seconds(5))))

    @Test func answersBuiltinsOverRealSockets() async throws {
        try await withRunningAgent { port, _ in
            let exchange = await client.exchange(
                ["PING", "ECHO a  b", "STATUS", "VERSION", "NOPE", ""].map(text),
                with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.error == nil)
            let replies = exchange.replies.map(\.text)
            #expect(replies[0] == "PONG")
            #expect(replies[1] == "a  b")
            #expect(replies[2].hasPrefix("OK "))
            #expect(replies[3] == "fleetcmd-agent \(DeviceAgent.version)")
            #expect(replies[4] == "ERR unknown command")
            #expect(replies[5] == "ERR empty command")
        }
    }

    @Test func embeddingWithAHandlerTakesAFewLines() async throws {
        var router = CommandRouter()
        router.on(prefix: "SET TEMP") { request in
            .text(
                "OK temp=\(request.arguments.first ?? "?") from \(request.peer.hasPrefix("127.0.0.1") ? "loopback" : "?")"
            )
        }
        try await withRunningAgent(router: router) { port, _ in
            let exchange = await client.exchange(
                [text("SET TEMP 21")], with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.replies.map(\.text) == ["OK temp=21 from loopback"])
        }
    }

    @Test func replyContainingTheTerminatorIsNeverSent() async throws {
        var router = CommandRouter()
        router.on("INJECT") { _ in AgentReply(payload: text("FAKE") + [0] + text("SECOND")) }
        try await withRunningAgent(router: router) { port, _ in
            let exchange = await client.exchange([text("INJECT")], with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.replies.map(\.text) == ["ERR reply contains the frame terminator"])
            #expect(exchange.leftoverBytes == 0)
        }
    }

    /// `acceptsOnEveryLoop`: a listening socket per event loop on one port (port 0: the first one's), every
    /// connection answered whichever loop accepts it, and closing the listener closes every socket before the close
    /// completes (a connection right after is refused).
    @Test func acceptsOnEveryLoopWithOneSocketPerLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        // An address of this test's own: once the listener is closed its port must refuse, and a listener another
        // test opens on 127.0.0.1 meanwhile may be given the same port number.
        let host = "127.0.77.1"
        var configuration = DeviceAgent.Configuration(listen: [.init(host: host, port: 0)])
        configuration.acceptsOnEveryLoop = true
        let control = ListenerControl()
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let agent = DeviceAgent(
            configuration: configuration, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            eventLoopGroup: group, listenerControl: control
        ) { addresses in
            portContinuation.yield(addresses[0].port!)
            portContinuation.finish()
        }
        /// Listening TCP sockets on `host`:`port` (/proc/net/tcp: the address in hex, state 0A).
        func listening(_ port: Int) throws -> Int {
            // Read to the end: a proc file says its size is 0, and a large table comes in several reads.
            let file = try #require(FileHandle(forReadingAtPath: "/proc/net/tcp"))
            defer { try? file.close() }
            let table = String(decoding: try file.readToEnd() ?? Data(), as: UTF8.self)
            let octets = host.split(separator: ".").compactMap { UInt8($0) }.reversed()
            let hex = octets.map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined()
            let local = hex + ":" + String(port, radix: 16, uppercase: true).leftPadded(to: 4)
            return table.split(separator: "\n").dropFirst().filter { line in
                let fields = line.split(separator: " ")
                return fields.count > 3 && fields[1] == local && fields[3] == "0A"
            }.count
        }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await agent.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                let sockets = try listening(port)
                #expect(sockets == 3, "listening sockets on \(port): \(sockets)")
                // A second agent on the same port fails to start, as with one socket (the first socket of a
                // listener binds without SO_REUSEPORT), instead of quietly taking a share of the connections.
                var same = configuration
                same.listen = [.init(host: host, port: port)]
                let second = DeviceAgent(
                    configuration: same, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
                    eventLoopGroup: group)
                await #expect(throws: (any Error).self) { try await second.run() }
                #expect(try listening(port) == 3)
                let address = DeviceAddress(host: host, port: port)
                for _ in 0..<30 {
                    #expect(await client.exchange([text("PING")], with: address).replies.map(\.text) == ["PONG"])
                }
                await control.close(0)
                #expect(try listening(port) == 0)
                let refused = await client.exchange([text("PING")], with: address)
                #expect(refused.error?.code == .refused)
                trigger.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        }
        try await group.shutdownGracefully()
    }

    /// Accepted connections have Nagle's algorithm off (a reply written after an unacknowledged one must not wait
    /// for the client's delayed ACK), though the agent sets it per connection no more: the listening sockets have
    /// it, and accepted sockets inherit it. Checked on the accepted socket itself, with one listening socket and
    /// with one per loop.
    @Test(arguments: [false, true])
    func acceptedConnectionsHaveNagleOff(acceptsOnEveryLoop: Bool) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var configuration = DeviceAgent.Configuration(listen: [.init(host: "127.0.0.1", port: 0)])
        configuration.acceptsOnEveryLoop = acceptsOnEveryLoop
        let seen = Mutex<[Int]>([])
        let options = Mutex<[String]>([])
        var hooks = AgentConnectionHooks()
        hooks.admit = { channel, _ in
            let value = (try? channel.syncOptions?.getOption(.tcpOption(.tcp_nodelay))) ?? -1
            seen.withLock { $0.append(value) }
            return .serve
        }
        // The options the agent sets on each accepted channel itself (not through the bootstrap), by the time the
        // connection's handlers are added.
        hooks.addHandlers = { pipeline, _ in
            try pipeline.addHandler(
                OptionsReader { channel in
                    let sync = channel.syncOptions
                    let halfClosure = (try? sync?.getOption(.allowRemoteHalfClosure)).map { "\($0)" } ?? "?"
                    let reads = (try? sync?.getOption(.maxMessagesPerRead)).map { "\($0)" } ?? "?"
                    options.withLock { $0.append("halfClosure=\(halfClosure) reads=\(reads)") }
                })
        }
        try await withRunningAgent(configuration: configuration, eventLoopGroup: group, hooks: hooks) { port, _ in
            let address = DeviceAddress(host: "127.0.0.1", port: port)
            for _ in 0..<8 {
                #expect(await client.exchange([text("PING")], with: address).replies.map(\.text) == ["PONG"])
            }
        }
        try await group.shutdownGracefully()
        let values = seen.withLock { $0 }
        #expect(values.count == 8)
        #expect(values.allSatisfy { $0 != 0 && $0 != -1 }, "TCP_NODELAY on accepted sockets: \(values)")
        #expect(options.withLock { $0 } == Array(repeating: "halfClosure=true reads=1", count: 8))
    }

    @Test func oversizeFrameGetsAnErrorAndTheConnectionCloses() async throws {
        var configuration = DeviceAgent.Configuration(listen: [.init(host: "127.0.0.1", port: 0)])
        configuration.limits.maxFrameBytes = 16
        try await withRunningAgent(configuration: configuration) { port, agent in
            let exchange = await client.exchange(
                [text(String(repeating: "A", count: 100)), text("PING")],
                with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.replies.map(\.text) == ["ERR frame too large"])
            #expect(exchange.error?.code == .closedEarly)
            #expect(agent.stats.snapshot.tooLarge == 1)
        }
    }

    @Test func perSourceConnectionLimitRefusesAtAccept() async throws {
        var configuration = DeviceAgent.Configuration(listen: [.init(host: "127.0.0.1", port: 0)])
        configuration.limits.maxConnectionsPerSource = 2
        try await withRunningAgent(configuration: configuration) { port, agent in
            let group = MultiThreadedEventLoopGroup.singleton
            var held: [any Channel] = []
            for _ in 0..<2 {
                held.append(try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).get())
            }
            // Wait (bounded) until the agent has counted both.
            let deadline = ContinuousClock.now + .seconds(10)
            while agent.stats.snapshot.connectionsOpen < 2, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))  // ok-sleep: polling interval, bounded by the deadline
            }
            #expect(agent.stats.snapshot.connectionsOpen == 2)
            let refused = await client.exchange([text("PING")], with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(refused.replies.isEmpty)
            #expect(refused.error?.code == .closedEarly || refused.error?.code == .reset)
            #expect(agent.stats.snapshot.connectionsRefused >= 1)
            for channel in held { try? await channel.close() }
        }
    }

    @Test func gracefulShutdownLetsAnInFlightCommandFinishAndReply() async throws {
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        var router = CommandRouter()
        router.on("SLOW") { _ in
            startedContinuation.yield()
            for await _ in release { break }
            return .text("DONE")
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        // An address of this test's own: its port must refuse once the agent stopped (see above).
        let host = "127.0.77.2"
        let agent = DeviceAgent(
            configuration: .init(listen: [.init(host: host, port: 0)]), router: router,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        ) { addresses in
            portContinuation.yield(addresses[0].port!)
        }
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                var portIterator = ports.makeAsyncIterator()
                let port = try #require(await portIterator.next())
                let pending = Task {
                    await client.exchange([text("SLOW")], with: DeviceAddress(host: host, port: port))
                }
                var startedIterator = started.makeAsyncIterator()
                _ = await startedIterator.next()
                trigger.triggerGracefulShutdown()
                releaseContinuation.yield()
                let exchange = await pending.value
                #expect(exchange.replies.map(\.text) == ["DONE"])
                try await group.waitForAll()
                // The listener is closed: new connections are refused.
                let after = await client.exchange([text("PING")], with: DeviceAddress(host: host, port: port))
                #expect(after.error?.code == .refused)
            }
        }
    }
}

/// Hands its channel to `read` when it is added to the pipeline (to read the channel's options there).
private final class OptionsReader: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any
    let read: @Sendable (any Channel) -> Void
    init(_ read: @escaping @Sendable (any Channel) -> Void) { self.read = read }
    func handlerAdded(context: ChannelHandlerContext) { read(context.channel) }
}
