import ArgumentParser
import FleetAgent
import FleetAgentConfig
import FleetFraming
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `fleetcmd agent`: the device-side daemon.
struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the device agent: accept connections and answer commands from a command table.",
        discussion: """
            With no --config it serves the builtins at once (PING, ECHO, STATUS, VERSION, UPTIME, HELP, STATS). \
            A YAML file (see docs/agent.md) sets listen addresses, framing, limits, logging and the command table; \
            flags given here win over the file. SIGTERM or SIGINT stops accepting, lets in-flight commands finish \
            (--shutdown-grace), then exits 0. Exit codes: 0 clean stop, 1 cannot start (e.g. cannot bind), \
            64 usage, 78 invalid configuration file.
            """
    )

    @Option(help: ArgumentHelp("YAML configuration file.", valueName: "path"))
    var config: String?

    @Flag(help: "Check the configuration file, report every problem with its line number, and exit.")
    var checkConfig = false

    @Option(
        name: .customLong("bind"),
        help: ArgumentHelp("Address to listen on (repeatable). Default: 0.0.0.0.", valueName: "address"))
    var binds: [String] = []

    @Option(help: "Port to listen on (0 picks a free one). Default: 9100.")
    var port: Int?

    @Option(help: ArgumentHelp("Framing preset (as for send).", valueName: "name"))
    var preset: String?

    @Option(help: ArgumentHelp("Close connections with no input for this long. Default: 60s.", valueName: "duration"))
    var idleTimeout: DurationArgument?

    @Option(help: ArgumentHelp("A started frame must complete within this time. Default: 10s.", valueName: "duration"))
    var frameTimeout: DurationArgument?

    @Option(help: ArgumentHelp("Largest request frame. Default: 4KiB.", valueName: "bytes"))
    var maxFrame: ByteCountArgument?

    @Option(help: "Connections open at once; more are refused at accept. Default: 1024.")
    var maxConnections: Int?

    @Option(help: "Connections open at once from one source address. Default: 64.")
    var maxConnectionsPerSource: Int?

    @Option(help: ArgumentHelp("Serve Prometheus metrics at http://ADDR:PORT/metrics.", valueName: "addr:port"))
    var metrics: String?

    @Option(
        help: ArgumentHelp(
            "Log level: trace, debug, info (default; one audit line per command), notice, warning, error.",
            valueName: "level"))
    var logLevel: String?

    @Option(
        help: ArgumentHelp("How long in-flight commands may finish after SIGTERM. Default: 10s.", valueName: "duration")
    )
    var shutdownGrace: DurationArgument?

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
        if let preset { do { _ = try FrameFormat.preset(named: preset) } catch { throw ValidationError("\(error)") } }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical")
        }
        if let metrics, Self.split(metrics) == nil {
            throw ValidationError("--metrics takes ADDR:PORT, not '\(metrics)'")
        }
        if checkConfig, config == nil { throw ValidationError("--check-config needs --config FILE") }
        for value in [maxConnections, maxConnectionsPerSource] {
            if let value, value <= 0 { throw ValidationError("connection limits must be positive") }
        }
    }

    func run() async throws {
        var file = AgentConfigFile()
        file.router = .builtins
        if let config {
            do {
                file = try AgentConfigFile.load(path: config)
            } catch {
                for problem in error.problems { Console.error("\(config):\(problem.line): \(problem.message)") }
                throw ExitCode(ExitStatus.configInvalid)
            }
            if checkConfig {
                Console.out(
                    "\(config): OK (\(file.router.routes.count) commands, listen \(file.configuration.listen.map(\.description).joined(separator: " ")), framing \(file.configuration.format.name))"
                )
                return
            }
        }
        var configuration = file.configuration
        if !binds.isEmpty || port != nil {
            let hosts = binds.isEmpty ? (file.hasListen ? configuration.listen.map(\.host) : ["0.0.0.0"]) : binds
            let chosenPort = port ?? configuration.listen.first?.port ?? 9100
            configuration.listen = hosts.map { DeviceAgent.ListenAddress(host: $0, port: chosenPort) }
        }
        if let preset { configuration.format = try FrameFormat.preset(named: preset) }
        if let idleTimeout { configuration.limits.idleTimeout = idleTimeout.value }
        if let frameTimeout { configuration.limits.frameTimeout = frameTimeout.value }
        if let maxFrame { configuration.limits.maxFrameBytes = maxFrame.value }
        if let maxConnections { configuration.limits.maxConnections = maxConnections }
        if let maxConnectionsPerSource { configuration.limits.maxConnectionsPerSource = maxConnectionsPerSource }
        if let shutdownGrace { configuration.shutdownGracePeriod = shutdownGrace.value }

        let level = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? file.logLevel ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "fleetcmd.agent")

        var services: [any Service] = []
        if let endpoint = metrics ?? file.metrics {
            guard let (host, metricsPort) = Self.split(endpoint) else {
                Console.error("metrics address must be ADDR:PORT, not '\(endpoint)'")
                throw ExitCode(ExitStatus.configInvalid)
            }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            services.append(
                MetricsEndpoint(host: host, port: metricsPort, registry: registry, logger: logger) { address in
                    Console.error("metrics on http://\(host):\(address.port ?? metricsPort)/metrics")
                })
        }
        let framingName = configuration.format.name
        let agent = DeviceAgent(configuration: configuration, router: file.router, logger: logger) { addresses in
            for address in addresses { Console.error("agent listening on \(Self.describe(address)) (\(framingName))") }
        }
        services.insert(agent, at: 0)
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger)
        )
        do {
            try await group.run()
        } catch {
            Console.error("agent failed: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }

    static func split(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
