import ArgumentParser
import FleetClient
import FleetFraming
import FleetInventory
import FleetTLS
import Foundation

/// `fleetcmd probe HOST[:PORT]...`: the `nc -vz` job, for many targets at once.
struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Check that devices accept TCP connections, and how fast.",
        discussion: """
            Connects to every target concurrently, reports reachable / refused / unreachable / connect-timeout and \
            the connect latency, then closes without sending anything. Exits 0 when every target was reachable; \
            otherwise with the exit code of the first unreachable target in argument order (2 refused, \
            3 unreachable, 4 connect timeout, 9 TLS). With --tls the probe completes the handshake, checks the \
            certificate as send would, and shows its names, issuer, expiry and key pin (for --pin). Targets come \
            from the arguments, from stdin (`-`: one per line, blank lines and # comments skipped) and from an \
            inventory (-i, with --limit; each device at its fleetcmd_port, else its preset's port).
            """
    )

    @Argument(
        help: ArgumentHelp(
            "Targets: host, host:port, [v6addr]:port (default port: the preset's); - reads them from stdin.",
            valueName: "host[:port]"))
    var targets: [String] = []

    @OptionGroup(title: "Inventory") var selection: InventoryOptions

    @OptionGroup var timeout: ConnectTimeoutOption

    @Option(help: "How many connection attempts run at once.")
    var concurrency = 256

    @Option(
        name: .shortAndLong, help: "Output: text, json (one document: an array) or jsonl (one object per target).")
    var output = OutputFormat.text

    @OptionGroup(title: "TLS") var tlsOptions: TLSOptions

    @OptionGroup var presetOptions: PresetOptions

    /// `device`: the inventory name, or the target as typed; `address`: `host:port`.
    struct Record: Encodable {
        var device: String
        var address: String
        var outcome: String
        var timings: Timing?
        var error: String?
        var tls: TLSRecord?
    }

    struct Timing: Encodable {
        /// Connect time in milliseconds.
        var connectMs: Double

        enum CodingKeys: String, CodingKey { case connectMs = "connect_ms" }
    }

    /// One device to probe: its name as the user knows it and where it is.
    struct Target {
        var name: String
        var address: DeviceAddress
        var fromInventory = false
    }

    struct TLSRecord: Encodable {
        var names: String
        var issuer: String
        var expires: String
        var pin: String
    }

    func validate() throws {
        guard !targets.isEmpty || !selection.inventory.isEmpty else {
            throw ValidationError("give at least one target, - for targets on stdin, or -i INVENTORY")
        }
        if selection.limit != nil, selection.inventory.isEmpty { throw ValidationError("--limit needs -i INVENTORY") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
        try output.require([.text, .json, .jsonl], for: "probe")
        for target in targets where target != "-" {
            do { _ = try DeviceAddress(parsing: target) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The targets in order: the arguments (with `-` replaced by stdin's lines), then the inventory's selection.
    private func resolveTargets(defaultPort: Int) throws -> [Target] {
        var resolved: [Target] = []
        for argument in targets {
            let texts =
                argument == "-"
                ? Self.readStandardInput().filter { !$0.isEmpty && !$0.hasPrefix("#") } : [argument]
            for text in texts {
                do {
                    resolved.append(
                        Target(name: text, address: try DeviceAddress(parsing: text, defaultPort: defaultPort)))
                } catch {
                    Console.error("\(error)")
                    throw ExitCode(ExitStatus.usage)
                }
            }
        }
        guard !selection.inventory.isEmpty else { return resolved }
        let catalog = try PresetCatalog.load(file: presetOptions.presets)
        let inventory = try InventorySelection.load(selection.inventory)
        for host in try InventorySelection.select(inventory, limit: selection.limit) {
            let port: Int
            do {
                port = try host.preset.map { try catalog.preset(named: $0).defaultPort } ?? defaultPort
            } catch {
                Console.error("inventory: device \(host.name): \(error)")
                throw ExitCode(ExitStatus.configInvalid)
            }
            let (address, hostPort) = host.endpoint(defaultPort: port)
            guard let hostPort else {
                Console.error("inventory: device \(host.name): fleetcmd_port must be a port number from 1 to 65535")
                throw ExitCode(ExitStatus.configInvalid)
            }
            resolved.append(
                Target(name: host.name, address: DeviceAddress(host: address, port: hostPort), fromInventory: true))
        }
        return resolved
    }

    private static func readStandardInput() -> [String] {
        var lines: [String] = []
        while let line = Swift.readLine(strippingNewline: true) {
            lines.append(line.trimmingCharacters(in: .whitespaces))
        }
        return lines
    }

    func run() async throws {
        let devicePreset = try presetOptions.devicePreset()
        let resolved = try resolveTargets(defaultPort: devicePreset.defaultPort)
        let addresses = resolved.map(\.address)
        var configuration = DeviceClient.Configuration(timeouts: .init(connect: timeout.connectTimeout.value))
        configuration.tls = try tlsOptions.clientTLS()
        let client = DeviceClient(configuration: configuration)
        var results = [Result<DeviceClient.ProbeResult, DeviceError>?](repeating: nil, count: addresses.count)
        await withTaskGroup(of: (Int, Result<DeviceClient.ProbeResult, DeviceError>).self) { group in
            var next = 0
            func addNext() {
                guard next < addresses.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await client.probeDetailed(addresses[index])) }
            }
            for _ in 0..<min(concurrency, addresses.count) { addNext() }
            while let (index, result) = await group.next() {
                results[index] = result
                addNext()
            }
        }
        var exitCode = ExitStatus.success
        let records = JSONRecords(output)
        for (target, result) in zip(resolved, results) {
            let address = target.address
            let shown = target.fromInventory ? "\(target.name) (\(address))" : address.description
            switch result! {  // every index was filled by the group above
            case .success(let probe):
                let took = probe.connectDuration
                let tls = probe.tls.map {
                    TLSRecord(
                        names: $0.names, issuer: $0.issuer, expires: $0.notValidAfter.formatted(.iso8601), pin: $0.pin)
                }
                if output.isJSON {
                    records.emit(
                        Record(
                            device: target.name, address: address.description, outcome: "reachable",
                            timings: Timing(connectMs: DurationText.milliseconds(took)), tls: tls))
                } else if let tls {
                    Console.out(
                        "\(shown): reachable (\(DurationText.format(took)), TLS: \(tls.names); issued by \(tls.issuer); "
                            + "expires \(tls.expires); pin \(tls.pin))")
                } else {
                    Console.out("\(shown): reachable (\(DurationText.format(took)))")
                }
            case .failure(let error):
                if exitCode == ExitStatus.success { exitCode = ExitStatus.code(for: error.code) }
                if output.isJSON {
                    records.emit(
                        Record(
                            device: target.name, address: address.description, outcome: error.code.label,
                            error: error.description))
                } else {
                    Console.out("\(shown): \(error.code.label) (\(error.detail))")
                }
            }
        }
        records.finish()
        if exitCode != ExitStatus.success { throw ExitCode(exitCode) }
    }
}
