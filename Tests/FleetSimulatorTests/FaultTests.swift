import FleetAgent
import FleetAgentConfig
import FleetClient
import FleetFraming
import FleetSimulator
import Foundation
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Each fault, seen from the foundation's client over real sockets: device 1 has the fault, device 2 does not.
@Suite struct FaultTests {
    func withFault<T: Sendable>(
        _ fault: Fault, _ body: @Sendable (FleetLayout, SimulatedFleet) async throws -> T
    ) async throws -> T {
        let layout = try layout(2)
        let configuration = SimulatedFleet.Configuration(
            layout: layout, profile: profile([FaultRule(fault: fault, devices: [1...1])]))
        return try await SimulatedFleet.withRunning(configuration, logger: quiet) { fleet in
            #expect(fleet.fault(of: 1) == fault)
            #expect(fleet.fault(of: 2) == nil)
            let healthy = await fastClient.exchange(commands("PING"), with: address(layout, 2))
            #expect(healthy.replies.map(\.text) == ["PONG"])
            return try await body(layout, fleet)
        }
    }

    @Test func refuse() async throws {
        try await withFault(.refuse) { layout, _ in
            let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            #expect(exchange.error?.code == .refused)
        }
    }

    @Test func neverRead() async throws {
        try await withFault(.neverRead) { layout, fleet in
            let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            #expect(exchange.error?.code == .replyTimeout)
            #expect(fleet.ledger.counters(0).received == 0)
            #expect(fleet.ledger.counters(0).connections == 1)
        }
    }

    @Test func neverReply() async throws {
        try await withFault(.neverReply) { layout, fleet in
            let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            #expect(exchange.error?.code == .replyTimeout)
            #expect(fleet.ledger.counters(0) == .init(connections: 1, received: 1, replied: 0))
        }
    }

    @Test func fixedLatency() async throws {
        try await withFault(.latency(.fixed(.milliseconds(300)))) { layout, _ in
            let began = ContinuousClock.now
            let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            #expect(exchange.replies.map(\.text) == ["PONG"])
            #expect(ContinuousClock.now - began >= .milliseconds(300))
        }
    }

    @Test func longTailLatencyHasItsMedian() {
        var generator = SplitMix64(seed: 9)
        let latency = Latency.longTail(median: .milliseconds(20), p99: .milliseconds(500))
        let samples = (0..<10_000).map { _ in latency.sample(using: &generator) }.sorted()
        #expect((.milliseconds(17)...(.milliseconds(23))).contains(samples[5000]))
        #expect((.milliseconds(380)...(.milliseconds(650))).contains(samples[9900]))
    }

    @Test func drip() async throws {
        try await withFault(.drip(bytes: 1, every: .milliseconds(30))) { layout, _ in
            let began = ContinuousClock.now
            let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            // PONG + NUL: five writes, four gaps.
            #expect(exchange.replies.map(\.text) == ["PONG"])
            #expect(ContinuousClock.now - began >= .milliseconds(120))
        }
    }

    @Test func resetMidReply() async throws {
        try await withFault(.resetMidReply) { layout, fleet in
            let exchange = await fastClient.exchange(commands("ECHO 0123456789"), with: address(layout, 1))
            #expect(exchange.error?.code == .reset)
            #expect(fleet.ledger.counters(0).replied == 0)
        }
    }

    @Test func closeBeforeTerminator() async throws {
        try await withFault(.closeBeforeTerminator) { layout, _ in
            let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            #expect(exchange.error?.code == .closedEarly)
        }
    }

    @Test func garbage() async throws {
        try await withFault(.garbage) { layout, _ in
            let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            #expect(exchange.error == nil)
            #expect(exchange.replies.count == 1)
            #expect(exchange.replies.first?.text != "PONG")
        }
    }

    @Test func oversized() async throws {
        try await withFault(.oversized(bytes: 2 << 20)) { layout, _ in
            // 1 MiB must arrive before the reply timeout, also on a machine busy with the other tests.
            let patient = DeviceClient(configuration: .init(timeouts: .init(connect: .seconds(5), reply: .seconds(15))))
            let exchange = await patient.exchange(commands("PING"), with: address(layout, 1))
            #expect(exchange.error?.code == .tooLarge)
        }
    }

    @Test func missingTerminator() async throws {
        try await withFault(.missingTerminator) { layout, _ in
            let exchange = await fastClient.exchange(commands("PING", "PING"), with: address(layout, 1))
            #expect(exchange.error?.code == .replyTimeout)
            #expect(exchange.replies.isEmpty)
        }
    }

    @Test func finIntolerant() async throws {
        try await withFault(.finIntolerant) { layout, fleet in
            // One command: the client half-closes (as the seed article does), the device drops the reply.
            var client = fastClient
            client.configuration.halfClose = .always
            let dropped = await client.exchange(commands("PING"), with: address(layout, 1))
            #expect(dropped.error?.code == .closedEarly)
            // Without the FIN it answers.
            client.configuration.halfClose = .never
            let answered = await client.exchange(commands("PING"), with: address(layout, 1))
            #expect(answered.replies.map(\.text) == ["PONG"])
            #expect(fleet.ledger.counters(0).received == 2)
            #expect(fleet.ledger.counters(0).replied == 1)
        }
    }

    @Test func singleSession() async throws {
        try await withFault(.singleSession) { layout, fleet in
            let (host, port) = layout.endpoint(1)
            // Hold one session open with a plain socket, and wait until the device has it.
            let holder = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(to: SocketAddress(ipAddress: host, port: port)).get()
            #expect(await poll { fleet.ledger.counters(0).connections == 1 })
            let second = await fastClient.exchange(commands("PING"), with: address(layout, 1))
            #expect(second.error?.code == .closedEarly || second.error?.code == .reset)
            try await holder.close()
            // Once the device has seen the first session end, it takes a new one.
            var third: Exchange?
            #expect(
                await poll {
                    third = await fastClient.exchange(commands("PING"), with: address(layout, 1))
                    return third?.error == nil
                })
            #expect(third?.replies.map(\.text) == ["PONG"])
        }
    }

    @Test func flapping() async throws {
        try await withFault(.flapping(up: .milliseconds(300), down: .milliseconds(300))) { layout, _ in
            // Within a few cycles the device is seen both up and down (10 s: the ports are opened and closed by a
            // task, which the whole suite running beside it can hold up for seconds).
            var outcomes = Set<String>()
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, !outcomes.isSuperset(of: ["PONG", "refused"]) {
                let exchange = await fastClient.exchange(commands("PING"), with: address(layout, 1))
                outcomes.insert(exchange.error.map { "\($0.code)" } ?? exchange.replies.first?.text ?? "?")
                try await Task.sleep(for: .milliseconds(60))  // ok-sleep: the polling interval, bounded by the deadline
            }
            // A connection caught in the listener's backlog as it closes is reset; that is what real devices do.
            #expect(outcomes.isSuperset(of: ["PONG", "refused"]))
            #expect(outcomes.isSubset(of: ["PONG", "refused", "reset"]))
        }
    }
}

@Suite struct ProfileTests {
    @Test func readsFaultsAndReportsProblemsByLine() throws {
        let profile = try SimulatorProfile.parse(
            """
            preset: line
            state: false
            commands:
              - {name: WHO, reply: "I am {device}"}
            faults:
              - {kind: latency, rate: 0.5, fixed: 200ms}
              - {kind: drip, devices: [3, "10-12"], bytes: 2, every: 5ms}
              - {kind: flapping, rate: 0.1, up: 1s, down: 3s}
            """)
        #expect(profile.configuration.format.name == "line")
        #expect(!profile.state)
        #expect(
            profile.faults == [
                FaultRule(fault: .latency(.fixed(.milliseconds(200))), rate: 0.5),
                FaultRule(fault: .drip(bytes: 2, every: .milliseconds(5)), devices: [3...3, 10...12]),
                FaultRule(fault: .flapping(up: .seconds(1), down: .seconds(3)), rate: 0.1),
            ])
        #expect(throws: (any Error).self) {
            try SimulatorProfile.parse(
                """
                faults:
                  - {kind: explode, rate: 0.1}
                  - {kind: latency, rate: 2}
                  - {kind: refuse}
                """)
        }
        do {
            _ = try SimulatorProfile.parse("faults:\n  - {kind: explode, rate: 0.1}\n  - {kind: latency, rate: 2}\n")
        } catch {
            #expect(error.problems.map(\.line) == [2, 3])
            #expect("\(error)".contains("unknown fault kind 'explode'"))
        }
    }

    @Test func profilesStartFromTheSimulatorsLimits() throws {
        let plain = try SimulatorProfile.parse("preset: line\n")
        #expect(plain.configuration.limits.maxConnectionsPerSource == Int.max)
        #expect(plain.configuration.limits.maxConnections == Int.max)
        // A value the file gives is kept, even when it equals the agent's own default.
        let explicit = try SimulatorProfile.parse("limits: {max_connections_per_source: 64}\n")
        #expect(explicit.configuration.limits.maxConnectionsPerSource == 64)
        #expect(explicit.configuration.limits.maxConnections == Int.max)
    }

    @Test func faultFlags() throws {
        #expect(try SimulatorProfile.rule(flag: "refuse=0.25") == FaultRule(fault: .refuse, rate: 0.25))
        #expect(throws: SimulatorError.self) { try SimulatorProfile.rule(flag: "refuse") }
        #expect(throws: SimulatorError.self) { try SimulatorProfile.rule(flag: "melt=0.1") }
    }

    @Test func layoutNamesAndAddresses() throws {
        let block = try FleetLayout.block("127.1.0.0/16")
        let layout = try FleetLayout(
            count: 1000, addressing: .addresses(network: block.network, prefix: 16, port: 9100))
        #expect(layout.name(1) == "dev0001")
        #expect(layout.address(1) == "127.1.0.1:9100")
        #expect(layout.address(300) == "127.1.1.44:9100")
        #expect(throws: SimulatorError.self) {
            try FleetLayout(count: 300, addressing: .addresses(network: block.network, prefix: 24, port: 9100))
        }
        let ports = try FleetLayout(count: 3, addressing: .ports(host: "127.0.0.1", basePort: 20000))
        #expect(ports.inventory(format: "txt") == "127.0.0.1:20000\n127.0.0.1:20001\n127.0.0.1:20002\n")
        #expect(ports.inventory(format: "yaml").contains("dev002: {ansible_host: \"127.0.0.1\", fleetcmd_port: 20001}"))
    }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
func poll(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))  // ok-sleep: the polling interval, bounded by the deadline
    }
    return await condition()
}
