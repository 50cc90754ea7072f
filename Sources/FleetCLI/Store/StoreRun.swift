import ArgumentParser
import FleetInventory
import FleetRunner
import FleetStore
import Foundation
import Logging
import UnixSignals

/// `run --store`: creates the run in the store (or finds it, with --resume), works on it as one of its workers
/// (the devices with no site), and prints progress and the grouped summary once every device has an outcome,
/// whoever recorded it.
struct StoreRun {
    let run: Run

    /// The settings of a stored run, rebuilt from its command line as this machine reads it (its presets, files,
    /// $FLEETCMD_PASSWORD); `forks` is this worker's window.
    static func setup(for stored: StoredRun, forks: Int) throws -> RunSetup {
        var run = try Run.parse(stored.arguments)
        run.forks = forks
        return try RunSetup(run)
    }

    /// The command line as a store keeps it: no password, no store URL (it may hold one), no --detach.
    static func storedArguments(_ arguments: [String]) -> [String] {
        var kept: [String] = []
        var skipNext = false
        for argument in PasswordOptions.redacting(arguments).arguments {
            if skipNext {
                skipNext = false
            } else if argument == "--store" {
                skipNext = true
            } else if !argument.hasPrefix("--store="), argument != "--detach" {
                kept.append(argument)
            }
        }
        return kept
    }

    static func newWorker(site: String?, lease: Duration) -> WorkerIdentity {
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(getpid())
        let suffix = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let seconds = Double(lease.components.seconds) + Double(lease.components.attoseconds) / 1e18
        return WorkerIdentity(id: "\(host):\(pid):\(suffix)", site: site, host: host, pid: pid, leaseSeconds: seconds)
    }

    /// A new run from the selected inventory.
    func start(
        hosts: [Inventory.Host], targets: [RunTarget], store location: StoreLocation, setup: RunSetup
    )
        async throws
    {
        let id = StateDirectory.newRunID()
        let stored = StoredRun(
            id: id, arguments: Self.storedArguments(Run.originalArguments()), commands: setup.payloads.map(\.shown),
            isIdempotent: run.idempotent)
        let devices = zip(hosts, targets).map { host, target in
            NewDevice(
                name: host.name, address: target.address, site: host.values["fleetcmd_site"]?.text,
                host: StoredHost(values: host.values.mapValues(\.text), entryPort: host.entryPort))
        }
        try await Self.withStore(location) { store in
            try await store.createRun(stored, devices: devices)
            Console.error("run \(id): \(devices.count) device\(devices.count == 1 ? "" : "s") (store \(location))")
            if run.detach {
                Console.out(id)
                return
            }
            try await follow(id, store: store, total: devices.count)
        }
    }

    /// `run --resume ID --store URL`: works on a stored run until it is finished.
    static func resume(_ id: String, run: Run, store location: StoreLocation) async throws {
        try await withStore(location) { store in
            guard let stored = try await store.run(id) else {
                Console.error("cannot resume \(id): no such run in store \(location)")
                throw ExitCode(ExitStatus.usage)
            }
            Console.error("resuming run \(id) (store \(location))")
            try await StoreRun(run: run).follow(id, store: store, total: stored.devices)
        }
    }

    static func withStore<T: Sendable>(
        _ location: StoreLocation, _ body: @Sendable (RunStore) async throws -> T
    )
        async throws -> T
    {
        do {
            // The driver's own log lines are not for users: its errors come back as StoreError lines.
            let quiet = Logger(label: "fleetcmd.store", factory: { _ in SwiftLogNoOpLogHandler() })
            return try await RunStore.with(location, logger: quiet, body)
        } catch let error as StoreError {
            Console.error("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
    }

    /// Works on run `id` as a worker for the devices without a site and waits until every device has an outcome;
    /// then prints the report as a run with a journal does.
    private func follow(_ id: String, store: RunStore, total: Int) async throws {
        let worker = StoreWorker(
            store: store, identity: Self.newWorker(site: nil, lease: .seconds(30)), forks: run.forks, onlyRun: id)
        let live = Progress(total: total, live: run.progress ?? Console.stderrTakesEscapes)
        let began = ContinuousClock.now
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        // The worker is never cancelled (what it has in flight must be recorded): it is told to stop, when every
        // device has an outcome or at a signal, and waited for.
        let interrupted = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await worker.run()
                return false
            }
            group.addTask {
                // The others' progress too, until every device has an outcome.
                while !Task.isCancelled {
                    if let progress = try? await store.progress(of: id) {
                        live.update(progress.done, ok: progress.ok, inFlight: progress.sending)
                        if progress.isFinished { break }
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
                worker.stop()
                return false
            }
            group.addTask {
                for await _ in signals {
                    Console.error(
                        "interrupted: finishing conversations in flight; the run stays in the store for its workers (or --resume \(id) --store)"
                    )
                    worker.stop()
                    return true
                }
                return false
            }
            var interrupted = false
            // The worker's task ends last of the three unless cancelled: once it has, the others can go.
            var left = 3
            while left > 0, let next = await group.next() {
                left -= 1
                interrupted = interrupted || next
                if worker.isFinished { group.cancelAll() }
            }
            return interrupted
        }
        live.finish()
        if interrupted { throw ExitCode(ExitStatus.runInterrupted) }
        let elapsed = ContinuousClock.now - began
        let devices: [StoredDevice]
        do {
            devices = try await store.devices(of: id)
        } catch {
            Console.error("\(error)")
            throw ExitCode(ExitStatus.failure)
        }
        let results = devices.map { $0.result ?? DeviceResult(device: $0.name, address: $0.address, outcome: .skipped) }
        try run.report(results, elapsed: elapsed)
    }
}
