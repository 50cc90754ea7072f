import ArgumentParser
import FleetClient
import FleetFraming

/// `fleetcmd probe HOST[:PORT]...`: the `nc -vz` job, for many targets at once.
struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that devices accept TCP connections, and how fast.",
        discussion: """
            Connects to every target concurrently, reports reachable / refused / unreachable / connect-timeout and \
            the connect latency, then closes without sending anything. Exits 0 when every target was reachable; \
            otherwise with the exit code of the first unreachable target in argument order (2 refused, \
            3 unreachable, 4 connect timeout).
            """
    )

    @Argument(
        help: ArgumentHelp("Targets: host, host:port, [v6addr]:port (default port 9100).", valueName: "host[:port]"))
    var targets: [String]

    @Option(help: ArgumentHelp("Limit for each connection attempt.", valueName: "duration"))
    var connectTimeout = DurationArgument(.seconds(5))

    @Option(help: "How many connection attempts run at once.")
    var concurrency = 256

    @Option(name: .shortAndLong, help: "Output: text, or json (one object per target).")
    var output = OutputFormat.text

    struct Record: Encodable {
        var device: String
        var outcome: String
        var ms: Double?
        var error: String?
    }

    func validate() throws {
        guard !targets.isEmpty else { throw ValidationError("give at least one target") }
        guard concurrency > 0 else { throw ValidationError("--concurrency must be positive") }
        for target in targets {
            do { _ = try DeviceAddress(parsing: target) } catch { throw ValidationError("\(error)") }
        }
    }

    func run() async throws {
        let addresses = try targets.map { try DeviceAddress(parsing: $0) }
        let client = DeviceClient(configuration: .init(timeouts: .init(connect: connectTimeout.value)))
        var results = [Result<Duration, DeviceError>?](repeating: nil, count: addresses.count)
        await withTaskGroup(of: (Int, Result<Duration, DeviceError>).self) { group in
            var next = 0
            func addNext() {
                guard next < addresses.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await client.probe(addresses[index])) }
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
            case .success(let took):
                if output == .json {
                    Console.out(
                        Render.json(
                            Record(
                                device: address.description, outcome: "reachable", ms: DurationText.milliseconds(took)))
                    )
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
