import ArgumentParser
import FleetAgent
import FleetClient
import FleetFraming
import FleetRunner
import FleetSimulator
import Foundation
import Logging
import NIOCore

/// `fleetcmd demo`: a simulated fleet in this process, one command across all of it, and what a real run shows.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a command across a simulated fleet on loopback (no hardware needed) and show the results.",
        discussion: """
            Starts --devices simulated devices in this process (each its own address on 127/8, port 9100, the \
            seed article's framing), a few with faults (refused, silent, slow, reset), sends FIRMWARE to every \
            one of them concurrently, and prints grouped replies and failures by outcome. Then it prints \
            commands to try next.
            """
    )

    @Option(help: "Number of simulated devices.")
    var devices = 1000

    @Option(help: "Conversations in flight at once.")
    var concurrency = 200

    @Option(help: "Seed for which devices misbehave.")
    var seed: UInt64 = 7

    func run() async throws {
        guard (1...60_000).contains(devices), concurrency >= 1 else {
            Console.error("--devices must be from 1 to 60000 and --concurrency at least 1")
            throw ExitCode(ExitStatus.usage)
        }
        OpenFileLimit.raiseToHardLimit()
        let logger = Logger(label: "fleetcmd.demo", factory: { _ in SwiftLogNoOpLogHandler() })
        var profile = SimulatorProfile(faults: [
            FaultRule(fault: .refuse, rate: 0.004),
            FaultRule(fault: .neverReply, rate: 0.003),
            FaultRule(fault: .resetMidReply, rate: 0.002),
            FaultRule(fault: .latency(.longTail(median: .milliseconds(30), p99: .milliseconds(200))), rate: 0.05),
        ])
        // The last fifth of the fleet runs older firmware, so the replies fall into two groups.
        let upgraded = devices - devices / 5
        profile.router.on(
            "FIRMWARE", immediate: { request in .text(request.listener >= upgraded ? "V2.0.3" : "V2.1.0") })
        // A block of 127/8 nobody else is likely to use; try another if it is taken.
        var lastError: (any Error)?
        for attempt in 0..<5 {
            let second = UInt32(200 + (Int(getpid()) + attempt * 11) % 50)
            let layout = try FleetLayout(
                count: devices, addressing: .addresses(network: 127 << 24 | second << 16, prefix: 16, port: 9100))
            do {
                try await SimulatedFleet.withRunning(
                    .init(layout: layout, profile: profile, seed: seed), logger: logger
                ) { fleet in
                    await show(fleet)
                }
                return
            } catch {
                lastError = error
            }
        }
        Console.error("cannot start the simulated fleet: \(lastError.map { "\($0)" } ?? "unknown error")")
        throw ExitCode(ExitStatus.failure)
    }

    private func show(_ fleet: SimulatedFleet) async {
        let layout = fleet.layout
        Console.out(
            "A simulated fleet of \(layout.count) devices listens on \(layout.address(1)) … \(layout.address(layout.count)) (esc-cr framing)."
        )
        Console.out("$ fleetcmd run -i fleet.yaml --forks \(concurrency) FIRMWARE\n")
        let targets = (1...layout.count).map { number in
            let (host, port) = layout.endpoint(number)
            return RunTarget(name: layout.name(number), host: host, port: port)
        }
        let runner = FleetRunner(
            configuration: .init(
                commands: [Array("FIRMWARE".utf8)],
                client: .init(timeouts: .init(connect: .seconds(3), reply: .seconds(2))), forks: concurrency))
        let progress = Progress(total: layout.count, live: Console.stderrTakesEscapes)
        let began = ContinuousClock.now
        let results = await runner.run(targets) { _, state in
            progress.update(state.done, ok: state.ok, inFlight: state.inFlight)
        }
        progress.finish()
        for line in RunReport.lines(results, elapsed: ContinuousClock.now - began) { Console.out(line) }
        Console.out(
            """

            Try next (the same kind of fleet, in the background):
              fleetcmd simulate --devices 1000 --fault refuse=0.01 --fault latency=0.05 --inventory-out fleet.yaml &
              fleetcmd run -i fleet.yaml STATUS                       # the whole fleet, grouped replies
              fleetcmd run -i fleet.yaml --limit 'dev00*' --format jsonl PING
              fleetcmd send 127.1.0.1:9100 ID STATUS PING            # one device, three commands, one connection
              fleetcmd send 127.1.0.1:9100 'SET site lab' 'GET site'  # per-device state
              fleetcmd probe 127.1.0.1:9100 127.1.0.2:9100           # nc -vz for many targets
              fleetcmd agent --bind 127.0.0.1 --port 9100            # a real device agent (docs/agent.md)
              fleetcmd presets                                       # device families: PJLink, HP PJL, Zebra, ESC/POS...
              fleetcmd simulate --devices 5 --preset pjlink --addresses 127.2.0.0/24 --port 4352 &
              fleetcmd shell 127.2.0.1 --preset pjlink               # type %1POWR ? (docs/devices.md)
              fleetcmd tls init --agent 127.0.0.1 --client ops       # mutual TLS in five minutes (docs/tls.md)
            """)
    }
}
