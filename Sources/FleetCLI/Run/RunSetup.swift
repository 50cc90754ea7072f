import ArgumentParser
import FleetClient
import FleetFraming
import FleetInventory
import FleetRunner
import FleetTLS

/// What a run's command line makes, in one place for `run` and for store workers that rebuild a run from its
/// stored command line: the presets, the runner, and how a device's inventory entry becomes a target.
struct RunSetup {
    let catalog: PresetCatalog
    let runPreset: DevicePreset
    let payloads: [(bytes: [UInt8], shown: String)]
    let runner: FleetRunner
    private let tlsSetups: TLSSetups
    private let runPassword: String?
    private let portOption: Int?
    private let halfCloseOption: DeviceClient.HalfClosePolicy?

    init(_ run: Run) throws {
        do {
            catalog = try PresetCatalog.load(file: run.client.framing.presets)
        } catch {
            Console.error("\(error)")
            throw ExitCode(ExitStatus.configInvalid)
        }
        do {
            runPreset = try catalog.preset(named: run.client.framing.preset)
        } catch {
            throw ValidationError("\(error)")
        }
        payloads = try run.payloads()
        let pattern = try ErrorPattern(run.errorPattern)
        runner = FleetRunner(
            configuration: .init(
                commands: payloads.map(\.bytes), client: try run.client.settings.baseConfiguration(for: runPreset),
                forks: run.forks, ratePerSecond: try run.rateValue(), retries: run.retries,
                retryBackoff: run.retryBackoff.value, isIdempotent: run.idempotent, stopOnError: run.stopOnError,
                isErrorReply: { reply in pattern.matches(reply) }))
        tlsSetups = TLSSetups(base: run.client.tls)
        runPassword = try PasswordOptions.typed ?? run.client.password.resolve()
        // Options read once: a property wrapper's getter costs more than the rest of a host's work.
        portOption = run.port
        halfCloseOption = run.client.halfClose
    }

    /// The target for an inventory entry (its preset, port, TLS and password); a bad entry is a one-line error
    /// naming the device, exit 78.
    func target(for host: Inventory.Host) throws -> RunTarget {
        let preset: DevicePreset
        do {
            preset = try host.preset.map { try catalog.preset(named: $0) } ?? runPreset
        } catch {
            Console.error("inventory: device \(host.name): \(error)")
            throw ExitCode(ExitStatus.configInvalid)
        }
        let (address, port) = host.endpoint(defaultPort: portOption ?? preset.defaultPort)
        guard let port else {
            Console.error("inventory: device \(host.name): fleetcmd_port must be a port number from 1 to 65535")
            throw ExitCode(ExitStatus.configInvalid)
        }
        let format: FrameFormat? = host.preset == nil ? nil : preset.format
        let tls: ClientTLS?
        do {
            tls = try tlsSetups.setup(for: host)
        } catch {
            Console.error("inventory: device \(host.name): \(error)")
            throw ExitCode(ExitStatus.configInvalid)
        }
        var target = RunTarget(name: host.name, host: address, port: port, format: format, tls: tls)
        target.session = preset.session.isEmpty ? nil : preset.session
        target.password = host.values["fleetcmd_password"]?.text ?? runPassword
        if halfCloseOption == nil { target.halfClose = preset.halfClose }
        return target
    }
}
