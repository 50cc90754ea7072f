import ArgumentParser
import FleetAgent
import FleetAgentConfig
import FleetCodec
import FleetFraming
import FleetTLS
import Logging
import Metrics
import NIOCore
import Prometheus
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// `fleetcmd agent`: the device-side daemon.
struct Agent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the device agent: accept connections and answer commands from a command table.",
        discussion: """
            With no --config it serves the builtins at once (PING, ECHO, STATUS, VERSION, UPTIME, HELP, STATS). \
            A YAML file (see docs/agent.md) sets listen addresses, framing, limits, logging and the command table; \
            flags given here win over the file. SIGTERM or SIGINT stops accepting, lets in-flight commands finish \
            (--shutdown-grace), then exits 0. SIGHUP reloads the TLS certificate, key and client CA (open \
            connections keep theirs). exec commands are refused on plaintext listeners that are not loopback unless \
            --allow-plaintext-exec. Exit codes: 0 clean stop, 1 cannot start (e.g. cannot bind), 64 usage, \
            78 invalid configuration file or unusable TLS file.
            """
    )

    @Option(help: ArgumentHelp("YAML configuration file.", valueName: "path"), completion: .file())
    var config: String?

    @Flag(help: "Check the configuration file, report every problem with its line number, and exit.")
    var checkConfig = false

    @Option(
        name: .customLong("bind"),
        help: ArgumentHelp("Address to listen on (repeatable). Default: 0.0.0.0.", valueName: "address"))
    var binds: [String] = []

    @Option(help: "Port to listen on (0 picks a free one). Default: 9100.")
    var port: Int?

    @Option(
        help: ArgumentHelp("Framing preset (as for send).", valueName: "name"), completion: PresetOptions.presetNames)
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

    @Option(
        name: .customLong("tls-listen"),
        help: ArgumentHelp(
            "Also listen with TLS at ADDR:PORT (repeatable); needs --tls-cert and --tls-key.", valueName: "addr:port"))
    var tlsListen: [String] = []

    @Option(help: ArgumentHelp("The agent's certificate (PEM, chain allowed).", valueName: "path"), completion: .file())
    var tlsCert: String?

    @Option(help: ArgumentHelp("The agent's private key (PEM).", valueName: "path"), completion: .file())
    var tlsKey: String?

    @Option(
        help: ArgumentHelp("CA (PEM) that issues client certificates: turns on mutual TLS.", valueName: "path"),
        completion: .file())
    var tlsClientCA: String?

    @Option(
        help: ArgumentHelp(
            "Client certificates: none, optional or require (default require with --tls-client-ca).",
            valueName: "mode"))
    var tlsClientVerification: String?

    @Flag(help: "Serve only TLS: drop the plaintext listeners (with --tls-listen).")
    var tlsOnly = false

    @Option(
        name: .customLong("allow"),
        help: ArgumentHelp("Let in only clients from this network (CIDR; repeatable).", valueName: "cidr"))
    var allowNetworks: [String] = []

    @Option(
        name: .customLong("deny"),
        help: ArgumentHelp(
            "Keep out clients from this network (CIDR; repeatable; wins over --allow).", valueName: "cidr"))
    var denyNetworks: [String] = []

    @Flag(help: "Allow exec commands on plaintext listeners that are not loopback (anyone on the path could run them).")
    var allowPlaintextExec = false

    @Flag(
        help:
            "Allow exec commands for TLS clients without a verified client certificate (anyone who can reach the port could run them)."
    )
    var allowAnonymousExec = false

    @Option(help: ArgumentHelp("Log line format: text (default), logfmt or json.", valueName: "format"))
    var logFormat: String?

    @Option(
        name: .customLong("exec-allow"),
        help: ArgumentHelp(
            "Only clients whose certificate matches may run exec commands: CN=NAME, DNS:NAME, IP:ADDR, EMAIL:..., URI:..., * (repeatable).",
            valueName: "identity"))
    var execAllow: [String] = []

    func validate() throws {
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0-65535") }
        if let preset { do { _ = try FrameFormat.preset(named: preset) } catch { throw ValidationError("\(error)") } }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical")
        }
        if let logFormat, FleetLogHandler.Format(rawValue: logFormat) == nil {
            throw ValidationError("--log-format must be text, logfmt or json, not '\(logFormat)'")
        }
        if let metrics, Self.split(metrics) == nil {
            throw ValidationError("--metrics takes ADDR:PORT, not '\(metrics)'")
        }
        if checkConfig, config == nil { throw ValidationError("--check-config needs --config FILE") }
        for listen in tlsListen where AgentConfigFile.listenAddress(listen) == nil {
            throw ValidationError("--tls-listen takes ADDR:PORT, not '\(listen)'")
        }
        if let tlsClientVerification, ServerTLSSettings.ClientVerification(rawValue: tlsClientVerification) == nil {
            throw ValidationError("--tls-client-verification must be none, optional or require")
        }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsOnly, tlsListen.isEmpty { throw ValidationError("--tls-only needs --tls-listen") }
        do {
            _ = try AccessList(allow: allowNetworks, deny: denyNetworks)
            for rule in execAllow { try ClientIdentity.validate(rule: rule) }
        } catch {
            throw ValidationError("\(error)")
        }
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
        // A socket per event loop for each listener: connections are served where they are accepted.
        configuration.acceptsOnEveryLoop = true
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
        if tlsOnly { configuration.listen.removeAll { !$0.tls } }
        for listen in tlsListen {
            var address = AgentConfigFile.listenAddress(listen)!  // checked in validate()
            address.tls = true
            configuration.listen.append(address)
        }
        if let tlsCert, let tlsKey {
            configuration.tls = ServerTLSSettings(
                certificateFile: tlsCert, keyFile: tlsKey, clientCAFile: tlsClientCA ?? configuration.tls?.clientCAFile,
                clientVerification: tlsClientVerification.flatMap(ServerTLSSettings.ClientVerification.init))
        } else if var tls = configuration.tls {
            if let tlsClientCA { tls.clientCAFile = tlsClientCA }
            if let mode = tlsClientVerification.flatMap(ServerTLSSettings.ClientVerification.init) {
                tls.clientVerification = mode
            } else if tlsClientCA != nil, tls.clientVerification == .none {
                tls.clientVerification = .require
            }
            configuration.tls = tls
        }
        if !allowNetworks.isEmpty || !denyNetworks.isEmpty {
            configuration.access = try AccessList(allow: allowNetworks, deny: denyNetworks)
        }
        if allowPlaintextExec { configuration.allowPlaintextExec = true }
        if allowAnonymousExec { configuration.allowAnonymousExec = true }
        if !execAllow.isEmpty { configuration.execAllow = execAllow }
        if configuration.listen.contains(where: \.tls) {
            guard let settings = configuration.tls else {
                Console.error("a TLS listener needs --tls-cert and --tls-key (or tls: in the config file)")
                throw ExitCode(ExitStatus.configInvalid)
            }
            do {
                _ = try ServerTLS(settings)  // every file readable and matching, or a clear error now
            } catch {
                Console.error("\(error)")
                throw ExitCode(ExitStatus.configInvalid)
            }
        }

        let level = logLevel.flatMap(Logger.Level.init(rawValue:)) ?? file.logLevel ?? .info
        let format = logFormat.flatMap(FleetLogHandler.Format.init(rawValue:)) ?? .text
        LoggingSystem.bootstrap { label in FleetLogHandler(label: label, level: level, format: format) }
        let logger = Logger(label: "fleetcmd.agent")

        var services: [any Service] = []
        if let endpoint = metrics ?? file.metrics {
            guard let (host, metricsPort) = Self.split(endpoint) else {
                Console.error("metrics address must be ADDR:PORT, not '\(endpoint)'")
                throw ExitCode(ExitStatus.configInvalid)
            }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(DescribedMetricsFactory(registry: registry))
            Counter(label: "fleet_log_lines_dropped_total").increment(by: 0)  // present from the start, at zero
            do {
                let endpoint = try await MetricsEndpoint.bind(
                    host: host, port: metricsPort, registry: registry, logger: logger)
                Console.error("metrics on http://\(host):\(endpoint.server.localAddress?.port ?? metricsPort)/metrics")
                services.append(endpoint)
            } catch {
                Console.error("metrics endpoint \(endpoint): \(ErrorText.describe(error))")
                throw ExitCode(ExitStatus.failure)
            }
        }
        let framingName = configuration.format.name
        let listeners = configuration.listen
        var hooks = AgentConnectionHooks()
        // The audit line per command, batched per event loop (at a level above info, not rendered at all).
        let audit = level <= .info ? AuditBatcher(format: format) : nil
        if let audit {
            hooks.audit = { @Sendable record in audit.write(record) }
            hooks.auditWillReply = { @Sendable in audit.handOverCurrent() }
        }
        defer { audit?.flush() }
        // Under systemd (`Type=notify`): READY=1 once every listener is up, RELOADING=1 at SIGHUP, STOPPING=1 and
        // the watchdog in SystemdService.
        let notifier = SystemdNotifier()
        let agent = DeviceAgent(configuration: configuration, router: file.router, logger: logger, hooks: hooks) {
            addresses in
            for (index, address) in addresses.enumerated() {
                let tls = index < listeners.count && listeners[index].tls ? ", tls" : ""
                Console.error("agent listening on \(SocketAddressText.describe(address)) (\(framingName)\(tls))")
            }
            notifier?.notify([
                "READY=1", "STATUS=listening on \(addresses.map(SocketAddressText.describe).joined(separator: " "))",
                "MAINPID=\(getpid())",
            ])
        }
        services.insert(agent, at: 0)
        if let notifier {
            services.append(
                SystemdService(notifier: notifier, watchdog: SystemdNotifier.watchdogInterval(), logger: logger))
        }
        // SIGHUP never stops the agent (its default action would): it reloads what can be reloaded.
        // Trapped before any listener opens: a SIGHUP right after the "listening" line must not stop the agent.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        services.append(TLSReloader(agent: agent, logger: logger, signals: hangups, notifier: notifier))
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0, successTerminationBehavior: .ignore) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger)
        )
        do {
            try await group.run()
        } catch {
            Console.error("agent failed: \(ErrorText.describe(error))")
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

}

/// SIGHUP, as nginx: reloads the agent's TLS files (new connections get the new certificate, open ones keep
/// theirs). The configuration file, listeners and limits are read at start only. SIGHUP never stops the agent.
struct TLSReloader: Service {
    let agent: DeviceAgent
    let logger: Logger
    /// SIGHUP, trapped by the caller before the agent starts.
    let signals: UnixSignalsSequence
    /// systemd, told RELOADING=1 before and READY=1 after each reload.
    var notifier: SystemdNotifier? = nil

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            notifier?.notify(["RELOADING=1", SystemdNotifier.monotonicField(), "STATUS=reloading TLS files"])
            defer { notifier?.notify(["READY=1", "STATUS=reloaded"]) }
            do {
                if let summary = try agent.reloadTLS() {
                    Console.error("TLS certificate reloaded: \(summary)")
                } else {
                    logger.notice("SIGHUP: nothing to reload (no TLS configured; other settings are read at start)")
                }
            } catch {
                logger.error(
                    "TLS reload failed; the previous certificate stays in use",
                    metadata: ["error": "\(ErrorText.describe(error))"])
            }
        }
    }
}
