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
        commandName: "simulate",
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
        help: ArgumentHelp("YAML profile: command table, state, faults (see docs/simulator.md).", valueName: "path"),
        completion: .file())
    var profile: String?

    @Option(
        name: .customLong("fault"),
        help: ArgumentHelp("A fault for a share of devices, e.g. refuse=0.01 (repeatable).", valueName: "kind=rate"))
    var faults: [String] = []

    @Option(
        help: ArgumentHelp(
            "Device family to simulate (`fleetcmd presets`): its framing, session and commands, as its manual "
                + "says (pjlink greets, epson-escvp21 wants its handshake, hp-pjl takes one connection at a time).",
            valueName: "name"), completion: PresetOptions.presetNames)
    var preset: String?

    @Option(
        help: ArgumentHelp(
            "pjlink devices ask for this password (MD5 login); epson-escvp21 projectors require it in the ESC/VP.net CONNECT.",
            valueName: "text"))
    var password: String?

    @Flag(help: "epson-escvp21 devices refuse the ESC/VP.net handshake (a locked projector).")
    var refuseHandshake = false

    @Option(help: "Seed for the fault assignment: the same seed gives the same faulty devices.")
    var seed: UInt64 = 1

    @Option(
        help: ArgumentHelp(
            "Write the fleet's inventory: .yaml/.yml Ansible YAML, .ini Ansible INI, else host:port lines.",
            valueName: "path"), completion: .file())
    var inventoryOut: String?

    @Option(
        help: ArgumentHelp("Write per-device counters as JSON on SIGUSR1 and at exit.", valueName: "path"),
        completion: .file())
    var statsOut: String?

    @Option(help: ArgumentHelp("Create this file once every device listens.", valueName: "path"), completion: .file())
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
            for line in "\(error)".split(separator: "\n") { Console.error(String(line)) }
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
            if worker { Console.out(WorkerReport.ready) }
            if !worker {
                Console.out(
                    Self.readyLine(
                        layout: layout, plan: fleet.plan, seed: seed, processes: 1, took: ContinuousClock.now - began))
            }
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: fleet)]
        if let statsOut {
            let signals = await UnixSignalsSequence(trapping: .sigusr1)
            services.append(
                .init(service: StatsOnSignal(fleet: fleet, path: statsOut, reports: worker, signals: signals)))
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
        let devices =
            layout.count == 1
            ? "1 device (\(layout.name(1)))"
            : "\(layout.count) devices (\(layout.name(1))…\(layout.name(layout.count)))"
        let milliseconds = took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000
        return
            "ready: \(devices) on \(span), seed \(seed), \(faults); \(processes) process\(processes == 1 ? "" : "es"), \(milliseconds) ms"
    }

    static func `extension`(of path: String) -> String { (path as NSString).pathExtension.lowercased() }

    /// Writes `text` to `path` atomically (a reader never sees half a file).
    static func write(_ text: String, to path: String) {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            Console.error("cannot write \(path): \(ErrorText.describe(error))")
        }
    }

    // MARK: - Several processes

    /// Serves a big fleet from several worker processes (this executable with --shard, under a
    /// ``SimulatorSupervisor``), and merges their counters.
    private func supervise(layout: FleetLayout, profile: SimulatorProfile) async throws {
        let began = ContinuousClock.now
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fleetcmd-simulate-\(getpid())")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let count = (layout.count + devicesPerProcess - 1) / devicesPerProcess
        let perProcess = (layout.count + count - 1) / count
        let shards = (0..<count).map { index in
            (index * perProcess + 1)...min(layout.count, (index + 1) * perProcess)
        }
        let statsFiles = shards.indices.map { scratch.appendingPathComponent("stats.\($0).json").path }
        let supervisor = SimulatorSupervisor(
            executable: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                ?? "/proc/self/exe",
            arguments: zip(shards, statsFiles).map { workerArguments(shard: $0, stats: $1) })
        let (events, sink) = AsyncStream.makeStream(of: SimulatorSupervisor.Event.self)
        let signals = await UnixSignalsSequence(trapping: .sigusr1, .sigterm, .sigint)
        let plan = FaultPlan(rules: profile.faults, seed: seed, count: layout.count)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await signal in signals { sink.yield(signal == .sigusr1 ? .statsRequested : .stop) }
            }
            if let duration {
                group.addTask {
                    try await Task.sleep(for: duration.value)  // ok-sleep: the run's length, not a poll
                    sink.yield(.stop)
                }
            }
            do {
                try await supervisor.run(
                    events: events, sink: sink,
                    onReady: {
                        if let inventoryOut {
                            Self.write(
                                layout.inventory(
                                    format: Self.extension(of: inventoryOut), variables: inventoryVariables),
                                to: inventoryOut)
                        }
                        if let readyFile { Self.write("ready\n", to: readyFile) }
                        Console.out(
                            Self.readyLine(
                                layout: layout, plan: plan, seed: seed, processes: count,
                                took: ContinuousClock.now - began))
                    },
                    onStats: { mergeStats(statsFiles) })
            } catch {
                Console.error("\(error)")
                group.cancelAll()
                throw ExitCode(ExitStatus.failure)
            }
            group.cancelAll()
        }
    }

    private func workerArguments(shard: ClosedRange<Int>, stats: String) -> [String] {
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
        arguments += ["--stats-out", stats]
        return arguments
    }

    /// Merges the workers' stats files into --stats-out.
    private func mergeStats(_ files: [String]) {
        guard let statsOut else { return }
        let decoder = JSONDecoder()
        var parts: [FleetStats] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file),
                let part = try? decoder.decode(FleetStats.self, from: data)
            else {
                Console.error("a simulator process wrote no counters (\(file))")
                continue
            }
            parts.append(part)
        }
        Self.write(FleetStats.merged(parts).json(), to: statsOut)
    }
}
