import ArgumentParser
import FleetAgent
import FleetAgentConfig
import FleetFraming
import FleetSimulator
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// `fleetcmd simulate`: a fleet of virtual devices on loopback.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate a fleet of devices on loopback, with faults injected on purpose.",
        discussion: """
            Every device is its own listening socket: by default device n listens on the n-th address of \
            127.1.0.0/16 at port 9100, so each looks like its own host (Linux lets any 127/8 address be bound); \
            --bind/--base-port puts them on consecutive ports of one address instead. Devices answer the agent's \
            builtins, ID, SET/GET/INCR (per-device state) and a --profile's command table; --fault or the \
            profile's faults: make some misbehave, drawn from --seed. Fleets bigger than --devices-per-process \
            are served by several processes (one open file per device). Prints a ready line when every device \
            listens. SIGUSR1 writes --stats-out; SIGTERM/SIGINT (or --duration) stops, writes it and exits 0. \
            See docs/simulator.md.
            """
    )

    @Option(help: "Number of devices.")
    var devices = 1000

    @Option(
        help: ArgumentHelp(
            "IPv4 block of 127/8 to take device addresses from. Default: 127.1.0.0/16.", valueName: "cidr"))
    var addresses: String?

    @Option(help: "Port every device listens on, with --addresses.")
    var port = 9100

    @Option(
        help: ArgumentHelp(
            "Address to put every device on, with --base-port. Default: 127.0.0.1.", valueName: "address"))
    var bind: String?

    @Option(
        help: ArgumentHelp(
            "Device n listens on this port + n - 1 (keep below 32768, the ephemeral range).", valueName: "port"))
    var basePort: Int?

    @Option(
        help: ArgumentHelp("YAML profile: command table, state, faults (see docs/simulator.md).", valueName: "path"))
    var profile: String?

    @Option(
        name: .customLong("fault"),
        help: ArgumentHelp("A fault for a share of devices, e.g. refuse=0.01 (repeatable).", valueName: "kind=rate"))
    var faults: [String] = []

    @Option(
        help: ArgumentHelp(
            "Device family to simulate (`fleetcmd presets`): its framing, session and commands, as its manual "
                + "says (pjlink greets, epson-escvp21 wants its handshake, hp-pjl takes one connection at a time).",
            valueName: "name"))
    var preset: String?

    @Option(help: ArgumentHelp("pjlink devices ask for this password (MD5 login).", valueName: "text"))
    var password: String?

    @Flag(help: "epson-escvp21 devices refuse the ESC/VP.net handshake (a locked projector).")
    var refuseHandshake = false

    @Option(help: "Seed for the fault assignment: the same seed gives the same faulty devices.")
    var seed: UInt64 = 1

    @Option(
        help: ArgumentHelp(
            "Write the fleet's inventory: .yaml/.yml Ansible YAML, .ini Ansible INI, else host:port lines.",
            valueName: "path"))
    var inventoryOut: String?

    @Option(help: ArgumentHelp("Write per-device counters as JSON on SIGUSR1 and at exit.", valueName: "path"))
    var statsOut: String?

    @Option(help: ArgumentHelp("Create this file once every device listens.", valueName: "path"))
    var readyFile: String?

    @Option(help: ArgumentHelp("Stop after this long. Default: run until SIGTERM/SIGINT.", valueName: "duration"))
    var duration: DurationArgument?

    @Option(help: "Devices one process serves; bigger fleets are split across processes.")
    var devicesPerProcess = 12_000

    @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    var logLevel = "warning"

    @Option(help: .hidden)
    var shard: String?

    func validate() throws {
        for (flag, path) in [("--inventory-out", inventoryOut), ("--stats-out", statsOut), ("--ready-file", readyFile)]
        {
            guard let path else { continue }
            let directory = (path as NSString).deletingLastPathComponent
            guard access(directory.isEmpty ? "." : directory, W_OK) == 0 else {
                throw ValidationError("\(flag) \(path): cannot write in \(directory.isEmpty ? "." : directory)")
            }
        }
    }

    func run() async throws {
        let layout: FleetLayout
        let profile: SimulatorProfile
        do {
            layout = try makeLayout()
            profile = try makeProfile()
        } catch let error as AgentConfigFile.LoadError {
            Console.err("\(error)")
            throw ExitCode(ExitStatus.configInvalid)
        } catch {
            Console.error("\(error)")
            throw ExitCode(ExitStatus.usage)
        }
        guard devicesPerProcess >= 1 else {
            Console.error("--devices-per-process must be at least 1")
            throw ExitCode(ExitStatus.usage)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
            return handler
        }
        let logger = Logger(label: "fleetcmd.simulate")
        if let shard {
            let bounds = shard.split(separator: "-").compactMap { Int($0) }
            guard bounds.count == 2, bounds[0] >= 1, bounds[0] <= bounds[1], bounds[1] <= layout.count else {
                throw ExitCode(ExitStatus.usage)
            }
            try await serve(
                layout: layout, profile: profile, devices: bounds[0]...bounds[1], logger: logger, worker: true)
        } else if layout.count > devicesPerProcess {
            try await supervise(layout: layout, profile: profile)
        } else {
            try await serve(layout: layout, profile: profile, devices: 1...layout.count, logger: logger, worker: false)
        }
    }

    private func makeLayout() throws -> FleetLayout {
        if let basePort {
            guard addresses == nil else {
                throw SimulatorError("use --addresses/--port or --bind/--base-port, not both")
            }
            return try FleetLayout(count: devices, addressing: .ports(host: bind ?? "127.0.0.1", basePort: basePort))
        }
        guard bind == nil else {
            throw SimulatorError("--bind needs --base-port (or use --addresses for one address per device)")
        }
        let block = try FleetLayout.block(addresses ?? "127.1.0.0/16")
        return try FleetLayout(
            count: devices, addressing: .addresses(network: block.network, prefix: block.prefix, port: port))
    }

    /// Group variables for `--inventory-out`: the family's preset (and PJLink password), so that `run` frames right.
    private var inventoryVariables: [(String, String)] {
        var variables: [(String, String)] = []
        if let preset { variables.append(("fleetcmd_preset", preset)) }
        if let password { variables.append(("fleetcmd_password", password)) }
        return variables
    }

    private func makeProfile() throws -> SimulatorProfile {
        var profile = try profile.map { try SimulatorProfile.load(path: $0) } ?? SimulatorProfile()
        if let preset {
            guard let device = DevicePreset.builtin(named: preset) else {
                throw ValidationError("unknown preset '\(preset)' (see `fleetcmd presets`)")
            }
            if self.profile == nil,
                let family = SimulatorProfile.family(device, password: password, refusesHandshake: refuseHandshake)
            {
                profile = family
            } else {
                profile.configuration.format = device.format
            }
        }
        profile.faults += try faults.map { try SimulatorProfile.rule(flag: $0) }
        return profile
    }

    // MARK: - One process

    private func serve(
        layout: FleetLayout, profile: SimulatorProfile, devices: ClosedRange<Int>, logger: Logger, worker: Bool
    ) async throws {
        let softLimit = OpenFileLimit.raiseToHardLimit()
        let room = softLimit - devices.count - 64
        guard room >= 256 else {
            Console.error(
                "\(devices.count) devices need \(devices.count + 320) open files; the limit here is \(softLimit) (lower --devices-per-process, or raise ulimit -n)"
            )
            throw ExitCode(ExitStatus.failure)
        }
        var profile = profile
        profile.configuration.limits.maxConnections = min(profile.configuration.limits.maxConnections, room)
        let began = ContinuousClock.now
        let configuration = SimulatedFleet.Configuration(layout: layout, devices: devices, profile: profile, seed: seed)
        let statsOut = self.statsOut
        let (inventoryOut, readyFile, seed) = (self.inventoryOut, self.readyFile, self.seed)
        let fleet = SimulatedFleet(configuration: configuration, logger: logger) { fleet in
            if !worker, let inventoryOut {
                Self.write(
                    layout.inventory(format: Self.extension(of: inventoryOut), variables: inventoryVariables),
                    to: inventoryOut)
            }
            if let readyFile { Self.write("ready\n", to: readyFile) }
            if !worker {
                Console.out(
                    Self.readyLine(
                        layout: layout, plan: fleet.plan, seed: seed, processes: 1, took: ContinuousClock.now - began))
            }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: fleet)]
        if let statsOut {
            services.append(.init(service: StatsOnSignal(fleet: fleet, path: statsOut)))
        }
        if let duration {
            services.append(
                .init(
                    service: StopAfter(duration: duration.value), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            Console.error("simulate failed: \(ErrorText.describe(error))")
            throw ExitCode(ExitStatus.failure)
        }
        if let statsOut { Self.write(fleet.stats().json(), to: statsOut) }
    }

    static func readyLine(layout: FleetLayout, plan: FaultPlan, seed: UInt64, processes: Int, took: Duration) -> String
    {
        var counts: [String: Int] = [:]
        for index in 0..<layout.count {
            if let fault = plan.fault(ofLocal: index) { counts[fault.kind, default: 0] += 1 }
        }
        let faults =
            counts.isEmpty
            ? "no faults" : counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let span = layout.count == 1 ? layout.address(1) : "\(layout.address(1)) … \(layout.address(layout.count))"
        let milliseconds = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
        return
            "ready: \(layout.count) devices (\(layout.name(1))…\(layout.name(layout.count))) on \(span), seed \(seed), \(faults); \(processes) process\(processes == 1 ? "" : "es"), \(milliseconds) ms"
    }

    static func `extension`(of path: String) -> String { (path as NSString).pathExtension.lowercased() }

    /// Writes `text` to `path` atomically (a reader never sees half a file).
    static func write(_ text: String, to path: String) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            Console.error("cannot write \(path): \(error.localizedDescription)")
        }
    }

    // MARK: - Several processes

    /// Serves a big fleet from several worker processes (this executable with --shard), and merges their
    /// readiness and counters.
    private func supervise(layout: FleetLayout, profile: SimulatorProfile) async throws {
        let began = ContinuousClock.now
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fleetcmd-simulate-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let count = (layout.count + devicesPerProcess - 1) / devicesPerProcess
        let perProcess = (layout.count + count - 1) / count
        var workers: [Worker] = []
        let (events, eventSink) = AsyncStream.makeStream(of: SupervisorEvent.self)
        let signals = await UnixSignalsSequence(trapping: .sigusr1, .sigterm, .sigint)
        let signalTask = Task {
            for await signal in signals { eventSink.yield(signal == .sigusr1 ? .statsRequested : .stop) }
        }
        defer { signalTask.cancel() }
        for index in 0..<count {
            let range = (index * perProcess + 1)...min(layout.count, (index + 1) * perProcess)
            let ready = scratch.appendingPathComponent("ready.\(index)").path
            let stats = scratch.appendingPathComponent("stats.\(index).json").path
            let process = Process()
            process.executableURL = URL(
                fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                    ?? "/proc/self/exe")
            process.arguments = workerArguments(shard: range, ready: ready, stats: stats)
            process.terminationHandler = { _ in eventSink.yield(.workerExited(index)) }
            do {
                try process.run()
            } catch {
                Console.error("cannot start a simulator process: \(error)")
                for worker in workers { worker.process.terminate() }
                throw ExitCode(ExitStatus.failure)
            }
            workers.append(Worker(process: process, ready: ready, stats: stats))
        }
        func stopAll() async {
            for worker in workers where worker.process.isRunning { kill(worker.process.processIdentifier, SIGTERM) }
            for worker in workers { await worker.waitForExit() }
        }
        // Wait until every worker is ready (or one fails).
        while !workers.allSatisfy({ FileManager.default.fileExists(atPath: $0.ready) }) {
            if let failed = workers.first(where: { !$0.process.isRunning }) {
                Console.error(
                    "a simulator process stopped while starting (exit status \(failed.process.terminationStatus))")
                await stopAll()
                throw ExitCode(ExitStatus.failure)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        if let inventoryOut {
            Self.write(
                layout.inventory(format: Self.extension(of: inventoryOut), variables: inventoryVariables),
                to: inventoryOut)
        }
        if let readyFile { Self.write("ready\n", to: readyFile) }
        let plan = FaultPlan(rules: profile.faults, seed: seed, count: layout.count)
        Console.out(
            Self.readyLine(layout: layout, plan: plan, seed: seed, processes: count, took: ContinuousClock.now - began))

        if let duration {
            Task {
                try await Task.sleep(for: duration.value)
                eventSink.yield(.stop)
            }
        }
        var failed = false
        loop: for await event in events {
            switch event {
            case .statsRequested:
                await collectStats(workers, refresh: true)
            case .stop:
                break loop
            case .workerExited(let index):
                Console.error(
                    "simulator process \(index + 1) of \(count) stopped (exit status \(workers[index].process.terminationStatus))"
                )
                failed = true
                break loop
            }
        }
        await stopAll()
        await collectStats(workers, refresh: false)
        if failed { throw ExitCode(ExitStatus.failure) }
    }

    private func workerArguments(shard: ClosedRange<Int>, ready: String, stats: String) -> [String] {
        var arguments = ["simulate", "--devices", String(devices), "--seed", String(seed), "--log-level", logLevel]
        if let basePort {
            arguments += ["--base-port", String(basePort)]
            if let bind { arguments += ["--bind", bind] }
        } else {
            arguments += ["--port", String(port)]
            if let addresses { arguments += ["--addresses", addresses] }
        }
        if let profile { arguments += ["--profile", profile] }
        if let preset { arguments += ["--preset", preset] }
        if let password { arguments += ["--password", password] }
        if refuseHandshake { arguments.append("--refuse-handshake") }
        for fault in faults { arguments += ["--fault", fault] }
        arguments += [
            "--devices-per-process", String(shard.count), "--shard", "\(shard.lowerBound)-\(shard.upperBound)",
        ]
        arguments += ["--ready-file", ready, "--stats-out", stats]
        return arguments
    }

    /// Merges the workers' stats files into --stats-out; with `refresh`, first asks each for a fresh one.
    private func collectStats(_ workers: [Worker], refresh: Bool) async {
        guard let statsOut else { return }
        if refresh {
            for worker in workers {
                try? FileManager.default.removeItem(atPath: worker.stats)
                kill(worker.process.processIdentifier, SIGUSR1)
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline,
                !workers.allSatisfy({ FileManager.default.fileExists(atPath: $0.stats) })
            {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let decoder = JSONDecoder()
        var parts: [FleetStats] = []
        for worker in workers {
            guard let data = FileManager.default.contents(atPath: worker.stats),
                let part = try? decoder.decode(FleetStats.self, from: data)
            else {
                Console.error("a simulator process wrote no counters (\(worker.stats))")
                continue
            }
            parts.append(part)
        }
        Self.write(FleetStats.merged(parts).json(), to: statsOut)
    }

    private enum SupervisorEvent: Sendable {
        case statsRequested, stop
        case workerExited(Int)
    }

    private struct Worker: @unchecked Sendable {  // Process is thread-safe for what is used here
        let process: Process
        let ready: String
        let stats: String

        func waitForExit() async {
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
    }
}

/// Writes the fleet's counters to a file on every SIGUSR1.
struct StatsOnSignal: Service {
    let fleet: SimulatedFleet
    let path: String

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigusr1)
        for await _ in signals.cancelOnGracefulShutdown() {
            Simulate.write(fleet.stats().json(), to: path)
        }
    }
}

/// Returns after `duration` (or at shutdown), to stop a bounded run.
struct StopAfter: Service {
    let duration: Duration

    func run() async throws {
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    }
}
