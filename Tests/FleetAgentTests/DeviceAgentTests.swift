import FleetAgent
import FleetClient
import FleetFraming
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
    _ body: @Sendable (Int, DeviceAgent) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let agent = DeviceAgent(
        configuration: configuration, router: router,
        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
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
        let agent = DeviceAgent(
            configuration: .init(listen: [.init(host: "127.0.0.1", port: 0)]), router: router,
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
                    await client.exchange([text("SLOW")], with: DeviceAddress(host: "127.0.0.1", port: port))
                }
                var startedIterator = started.makeAsyncIterator()
                _ = await startedIterator.next()
                trigger.triggerGracefulShutdown()
                releaseContinuation.yield()
                let exchange = await pending.value
                #expect(exchange.replies.map(\.text) == ["DONE"])
                try await group.waitForAll()
                // The listener is closed: new connections are refused.
                let after = await client.exchange([text("PING")], with: DeviceAddress(host: "127.0.0.1", port: port))
                #expect(after.error?.code == .refused)
            }
        }
    }
}
