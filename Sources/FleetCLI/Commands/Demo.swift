import ArgumentParser
import FleetAgent
import FleetClient
import FleetFraming
import FleetSimulator
import Foundation
import Logging
import NIOCore

/// `fleetcmd demo`: a simulated fleet in this process, one command across all of it, and what a real run shows.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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
        profile.router.on("FIRMWARE") { request in .text(request.listener >= upgraded ? "V2.0.3" : "V2.1.0") }
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
        Console.out("$ fleetcmd send <each device> FIRMWARE      # \(concurrency) at a time\n")
        let client = DeviceClient(configuration: .init(timeouts: .init(connect: .seconds(3), reply: .seconds(2))))
        let began = ContinuousClock.now
        let progress = Progress(total: layout.count, live: Console.stderrIsTerminal)
        var replies: [String: [String]] = [:]
        var failures: [String: [String]] = [:]
        await withTaskGroup(of: (Int, Exchange).self) { group in
            var next = 1
            func start() {
                let number = next
                next += 1
                let (host, port) = layout.endpoint(number)
                group.addTask {
                    (
                        number,
                        await client.exchange([Array("FIRMWARE".utf8)], with: DeviceAddress(host: host, port: port))
                    )
                }
            }
            while next <= min(concurrency, layout.count) { start() }
            for await (number, exchange) in group {
                let name = layout.name(number)
                if let error = exchange.error {
                    failures["\(error.code)", default: []].append(name)
                } else {
                    replies[exchange.replies.map(\.text).joined(separator: " | "), default: []].append(name)
                }
                progress.record(ok: exchange.error == nil, started: next - 1)
                if next <= layout.count { start() }
            }
        }
        progress.finish()
        let took = ContinuousClock.now - began
        let failed = failures.values.reduce(0) { $0 + $1.count }
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        Console.out(
            String(
                format: "%d devices: %d ok, %d failed in %.2f s (%.0f devices/s)\n", layout.count,
                layout.count - failed, failed,
                seconds, Double(layout.count) / max(seconds, 1e-9)))
        for (reply, names) in replies.sorted(by: { $0.value.count > $1.value.count }) {
            Console.out("\(HostList.fold(names)) (\(names.count)): \(reply)")
        }
        if !failures.isEmpty {
            Console.out("\nFailures by outcome:")
            for (outcome, names) in failures.sorted(by: { $0.key < $1.key }) {
                Console.out("  \(outcome) (\(names.count)): \(HostList.fold(names))")
            }
        }
        Console.out(
            """

            Try next (the same kind of fleet, in the background):
              fleetcmd simulate --devices 1000 --fault refuse=0.01 --fault latency=0.05 --inventory-out fleet.txt &
              fleetcmd send 127.1.0.1:9100 ID STATUS PING            # one device, three commands, one connection
              fleetcmd send 127.1.0.1:9100 'SET site lab' 'GET site'  # per-device state
              fleetcmd probe 127.1.0.1:9100 127.1.0.2:9100           # nc -vz for many targets
              fleetcmd agent --bind 127.0.0.1 --port 9100            # a real device agent (docs/agent.md)
            """)
    }
}

/// A live progress line on stderr (only on a terminal): done, ok, failed, in flight, rate.
final class Progress: @unchecked Sendable {  // used from one task at a time
    let total: Int
    let live: Bool
    private(set) var done = 0
    private var ok = 0
    private let began = ContinuousClock.now
    private var lastDrawn = ContinuousClock.now - .seconds(1)

    init(total: Int, live: Bool) {
        self.total = total
        self.live = live
    }

    func record(ok success: Bool, started: Int) {
        done += 1
        if success { ok += 1 }
        guard live, ContinuousClock.now - lastDrawn >= .milliseconds(100) || done == total else { return }
        lastDrawn = .now
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(done) / max(seconds, 1e-3)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        Console.errRaw(
            String(
                format: "\r[%d/%d] ok %d  failed %d  in flight %d  %.0f/s  ETA %.1fs\u{1B}[K", done, total, ok,
                done - ok,
                max(0, started - done), rate, eta))
    }

    func finish() { if live { Console.errRaw("\r\u{1B}[K") } }
}
