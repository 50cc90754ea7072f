import FleetAgent
import FleetFraming
import Foundation
public import Logging
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix
public import ServiceLifecycle

/// A fleet of virtual devices on loopback, served by one ``DeviceAgent`` with one listening socket per device.
///
/// ```swift
/// let layout = try FleetLayout(count: 1000, addressing: .addresses(network: 0x7F01_0000, prefix: 16, port: 9100))
/// try await SimulatedFleet.withRunning(.init(layout: layout, seed: 7), logger: logger) { fleet in
///     // talk to fleet.layout.address(1) … fleet.layout.address(1000)
///     print(fleet.stats().totals)
/// }
/// ```
///
/// Each device is a real socket, so a refusing device really refuses (the client sees ECONNREFUSED) and a
/// flapping one really goes away. One process holds as many devices as its open-file limit allows, less room
/// for connections; `fleetcmd simulate` splits bigger fleets across processes (``Configuration/devices``).
public struct SimulatedFleet: Service {
    public struct Configuration: Sendable {
        /// Names and addresses of the whole fleet.
        public var layout: FleetLayout
        /// The devices this instance serves (1-based numbers). Default: all of them.
        public var devices: ClosedRange<Int>
        public var profile: SimulatorProfile
        /// Draws the fault assignment: the same seed gives the same faulty devices.
        public var seed: UInt64

        public init(
            layout: FleetLayout, devices: ClosedRange<Int>? = nil, profile: SimulatorProfile = .init(), seed: UInt64 = 1
        ) {
            self.layout = layout
            self.devices = devices ?? 1...layout.count
            self.profile = profile
            self.seed = seed
        }
    }

    public let configuration: Configuration
    /// Per-device counters of connections, commands received and replies sent (index 0 is the first device
    /// this instance serves).
    public let ledger: DeviceLedger
    /// Which device has which fault.
    public let plan: FaultPlan
    private let logger: Logger
    private let group: any EventLoopGroup
    private let onReady: @Sendable (SimulatedFleet) async -> Void

    public init(
        configuration: Configuration, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onReady: @escaping @Sendable (SimulatedFleet) async -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.group = eventLoopGroup
        self.onReady = onReady
        self.ledger = DeviceLedger(count: configuration.devices.count)
        self.plan = FaultPlan(
            rules: configuration.profile.faults, seed: configuration.seed, first: configuration.devices.lowerBound - 1,
            count: configuration.devices.count)
    }

    /// The layout of the whole fleet.
    public var layout: FleetLayout { configuration.layout }

    /// The fault of device `number` (1-based), if it is served here.
    public func fault(of number: Int) -> Fault? {
        guard configuration.devices.contains(number) else { return nil }
        return plan.fault(ofLocal: number - configuration.devices.lowerBound)
    }

    public func run() async throws {
        let limit = OpenFileLimit.raiseToHardLimit()
        guard configuration.devices.count + 64 <= limit else {
            throw SimulatorError(
                "\(configuration.devices.count) devices need \(configuration.devices.count + 64) or more open files; this process may open \(limit) (serve fewer devices per process)"
            )
        }
        let first = configuration.devices.lowerBound
        let layout = configuration.layout
        let listen = configuration.devices.map { number in
            let (host, port) = layout.endpoint(number)
            return DeviceAgent.ListenAddress(host: host, port: port)
        }
        var agentConfiguration = configuration.profile.configuration
        agentConfiguration.listen = listen
        let plan = self.plan
        let flapping = listen.indices.compactMap { index -> (Int, Duration, Duration)? in
            if case .flapping(let up, let down) = plan.fault(ofLocal: index) { return (index, up, down) }
            return nil
        }
        // Each flapping device starts at its own point in its cycle (drawn from the seed).
        var phases = SplitMix64(seed: configuration.seed ^ 0xF1A9)
        let schedule = flapping.map { index, up, down in
            (index: index, up: up, period: up + down, offset: (up + down) * Double(phases.next() % 1000) / 1000)
        }
        let startedAt = ContinuousClock.now
        func isUp(
            _ item: (index: Int, up: Duration, period: Duration, offset: Duration), at instant: ContinuousClock.Instant
        ) -> Bool {
            let elapsed = (instant - startedAt) + item.offset
            let cycles = (elapsed / item.period).rounded(.down)
            return elapsed - item.period * cycles < item.up
        }
        /// The first instant after `instant` at which `item` goes up or down.
        func nextChange(
            _ item: (index: Int, up: Duration, period: Duration, offset: Duration),
            after instant: ContinuousClock.Instant
        ) -> ContinuousClock.Instant {
            let elapsed = (instant - startedAt) + item.offset
            let into = elapsed - item.period * (elapsed / item.period).rounded(.down)
            return instant + (into < item.up ? item.up - into : item.period - into)
        }
        var closed = Set(listen.indices.filter { plan.fault(ofLocal: $0) == .refuse })
        for item in schedule where !isUp(item, at: startedAt) { closed.insert(item.index) }
        let control = ListenerControl(closedAtStart: closed)

        let agent = DeviceAgent(
            configuration: agentConfiguration, router: router(), logger: logger,
            eventLoopGroup: group,
            hooks: FaultHooks.make(
                plan: plan, ledger: ledger, layout: layout, first: first, reply: agentConfiguration.format.reply),
            listenerControl: control,
            onRunning: { [self] _ in await onReady(self) }
        )
        guard !schedule.isEmpty else { return try await agent.run() }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await agent.run() }
            tasks.addTask {
                // Opens and closes the flapping devices' ports, each at its next change (a timer, not a poll).
                while !Task.isCancelled {
                    let now = ContinuousClock.now
                    let next = schedule.map { nextChange($0, after: now) }.min() ?? now + .seconds(1)
                    try await Task.sleep(until: next, clock: .continuous)
                    let reached = ContinuousClock.now
                    for item in schedule {
                        let up = isUp(item, at: reached)
                        if up, !control.isOpen(item.index) {
                            try? await control.open(item.index)
                        } else if !up, control.isOpen(item.index) {
                            await control.close(item.index)
                        }
                    }
                }
            }
            try await tasks.next()  // the agent returns on shutdown
            tasks.cancelAll()
        }
    }

    /// The profile's command table, plus per-device `SET`, `GET` and `INCR` when the profile asks for state.
    private func router() -> CommandRouter {
        var router = configuration.profile.router
        guard configuration.profile.state else { return router }
        let ledger = self.ledger
        router.on(
            prefix: "SET",
            immediate: { request in
                guard request.arguments.count >= 2 else { return .error("usage: SET key value") }
                let value = request.arguments.dropFirst().joined(separator: " ")
                ledger.withState(request.listener) { $0[request.arguments[0]] = value }
                return .text("OK")
            })
        router.on(
            prefix: "GET",
            immediate: { request in
                guard request.arguments.count == 1 else { return .error("usage: GET key") }
                return ledger.withState(request.listener) { state in
                    state[request.arguments[0]].map { .text($0) } ?? .error("no such key")
                }
            })
        router.on(
            prefix: "INCR",
            immediate: { request in
                guard request.arguments.count == 1 else { return .error("usage: INCR key") }
                return ledger.withState(request.listener) { state in
                    guard let value = Int(state[request.arguments[0]] ?? "0") else { return .error("not a number") }
                    state[request.arguments[0]] = String(value + 1)
                    return .text(String(value + 1))
                }
            })
        return router
    }

    /// Per-device counters, named and addressed as in the inventory.
    public func stats() -> FleetStats {
        let counters = ledger.all
        var devices: [FleetStats.Device] = []
        devices.reserveCapacity(counters.count)
        var totals = DeviceLedger.Counters()
        for (offset, counter) in counters.enumerated() {
            let number = configuration.devices.lowerBound + offset
            devices.append(
                .init(
                    device: layout.name(number), address: layout.address(number),
                    fault: plan.fault(ofLocal: offset)?.kind, connections: counter.connections,
                    received: counter.received, replied: counter.replied))
            totals.connections += counter.connections
            totals.received += counter.received
            totals.replied += counter.replied
        }
        return FleetStats(devices: devices, totals: totals)
    }

    /// Starts `configuration`'s fleet, runs `body` once every device listens, then stops the fleet.
    public static func withRunning<T: Sendable>(
        _ configuration: Configuration, logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: @Sendable (SimulatedFleet) async throws -> T
    ) async throws -> T {
        let (ready, readySink) = AsyncStream.makeStream(of: SimulatedFleet.self)
        let fleet = SimulatedFleet(configuration: configuration, logger: logger, eventLoopGroup: eventLoopGroup) {
            fleet in
            readySink.yield(fleet)
            readySink.finish()
        }
        let services = ServiceGroup(
            configuration: .init(services: [.init(service: fleet)], gracefulShutdownSignals: [], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                defer { readySink.finish() }
                try await services.run()
                return nil
            }
            var iterator = ready.makeAsyncIterator()
            guard let running = await iterator.next() else {
                // It stopped before it was ready: its error says why.
                for try await _ in tasks {}
                throw SimulatorError("the simulated fleet stopped before it was ready")
            }
            do {
                let result = try await body(running)
                await services.triggerGracefulShutdown()
                for try await _ in tasks {}
                return result
            } catch {
                await services.triggerGracefulShutdown()
                while let _ = try? await tasks.next() {}
                throw error
            }
        }
    }
}

/// What `--stats-out` writes: every device's counters, and their sums.
public struct FleetStats: Sendable, Codable, Hashable {
    public struct Device: Sendable, Codable, Hashable {
        public var device: String
        public var address: String
        public var fault: String?
        public var connections: Int
        public var received: Int
        public var replied: Int
    }

    public var devices: [Device]
    public var totals: DeviceLedger.Counters

    public init(devices: [Device], totals: DeviceLedger.Counters) {
        self.devices = devices
        self.totals = totals
    }

    /// Several processes' stats as one.
    public static func merged(_ parts: [FleetStats]) -> FleetStats {
        var totals = DeviceLedger.Counters()
        for part in parts {
            totals.connections += part.totals.connections
            totals.received += part.totals.received
            totals.replied += part.totals.replied
        }
        return FleetStats(devices: parts.flatMap(\.devices), totals: totals)
    }

    /// JSON, one device per line so that big fleets stay readable with `grep`.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func encode(_ value: some Encodable) -> String {
            (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        }
        var out = "{\"totals\": \(encode(totals)),\n \"devices\": [\n"
        out += devices.map { "  " + encode($0) }.joined(separator: ",\n")
        out += "\n]}\n"
        return out
    }
}
