import ArgumentParser
import FleetClient
import FleetFraming
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
            certificate as send would, and shows its names, issuer, expiry and key pin (for --pin).
            """
    )

    @Argument(
        help: ArgumentHelp("Targets: host, host:port, [v6addr]:port (default port 9100).", valueName: "host[:port]"))
    var targets: [String]

    @OptionGroup var timeout: ConnectTimeoutOption

    @Option(help: "How many connection attempts run at once.")
    var concurrency = 256

    @Option(name: .shortAndLong, help: "Output: text, or json (one object per target).")
    var output = OutputFormat.text

    @OptionGroup(title: "TLS") var tlsOptions: TLSOptions

    @OptionGroup var presetOptions: PresetOptions

    struct Record: Encodable {
        var device: String
        var outcome: String
        var ms: Double?
        var error: String?
        var tls: TLSRecord?
    }

    struct TLSRecord: Encodable {
        var names: String
        var issuer: String
        var expires: String
        var pin: String
    }

    func validate() throws {
        guard !targets.isEmpty else { throw ValidationError("give at least one target") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
        for target in targets {
            do { _ = try DeviceAddress(parsing: target) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() async throws {
        let devicePreset = try presetOptions.devicePreset()
        let addresses = try targets.map { try DeviceAddress(parsing: $0, defaultPort: devicePreset.defaultPort) }
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
        for (address, result) in zip(addresses, results) {
            switch result! {  // every index was filled by the group above
            case .success(let probe):
                let took = probe.connectDuration
                let tls = probe.tls.map {
                    TLSRecord(
                        names: $0.names, issuer: $0.issuer, expires: $0.notValidAfter.formatted(.iso8601), pin: $0.pin)
                }
                if output == .json {
                    Console.out(
                        Render.json(
                            Record(
                                device: address.description, outcome: "reachable", ms: DurationText.milliseconds(took),
                                tls: tls)))
                } else if let tls {
                    Console.out(
                        "\(address): reachable (\(DurationText.format(took)), TLS: \(tls.names); issued by \(tls.issuer); "
                            + "expires \(tls.expires); pin \(tls.pin))")
                } else {
                    Console.out("\(address): reachable (\(DurationText.format(took)))")
                }
            case .failure(let error):
                if exitCode == ExitStatus.success { exitCode = ExitStatus.code(for: error.code) }
                if output == .json {
                    Console.out(
                        Render.json(
                            Record(device: address.description, outcome: error.code.label, error: error.description)))
                } else {
                    Console.out("\(address): \(error.code.label) (\(error.detail))")
                }
            }
        }
        if exitCode != ExitStatus.success { throw ExitCode(exitCode) }
    }
}
