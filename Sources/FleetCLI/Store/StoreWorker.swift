import FleetInventory
import FleetRunner
import FleetStore
import Foundation
import Logging
import Synchronization

/// Works on shared runs in a store: claims devices in batches, commits their intents, talks to them, records
/// their outcomes; heart-beats meanwhile and settles what dead workers left behind. Several lanes keep the window
/// full while one waits for the store. Once ``stop()`` is called nothing new is claimed; conversations in flight
/// finish and their outcomes are recorded (retried until the store takes them). When the store is unreachable,
/// nothing is started without a committed intent; work resumes when it answers again.
final class StoreWorker: Sendable {
    let store: RunStore
    let identity: WorkerIdentity
    let forks: Int
    /// Work on this run only (the coordinator of `run --store`), and return once it is finished.
    let onlyRun: String?
    /// Return when no open run has a device this worker may claim (`worker --until-idle`).
    let untilIdle: Bool
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let outage = Atomic<Bool>(false)
    let completed = Atomic<Int>(0)
    /// Runs whose settings do not hold on this machine.
    private let excluded = Mutex<Set<String>>([])

    init(store: RunStore, identity: WorkerIdentity, forks: Int, onlyRun: String? = nil, untilIdle: Bool = false) {
        self.store = store
        self.identity = identity
        self.forks = forks
        self.onlyRun = onlyRun
        self.untilIdle = untilIdle
    }

    /// Claims nothing more; what is in flight finishes.
    func stop() { stopping.store(true, ordering: .relaxed) }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Whether ``run()`` has returned.
    var isFinished: Bool { finished.load(ordering: .relaxed) }

    func run() async {
        defer { finished.store(true, ordering: .relaxed) }
        let lanes = max(1, min(4, forks))
        let batch = max(1, forks / lanes)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.beat() }
            for _ in 0..<lanes { group.addTask { await self.lane(batch: batch) } }
            // The lanes end (stopped, idle, or the run finished); then the heart-beat is cancelled.
            var lanesLeft = lanes
            while lanesLeft > 0, await group.next() != nil { lanesLeft -= 1 }
            group.cancelAll()
        }
    }

    private func beat() async {
        let interval = Duration.seconds(max(0.2, min(1, identity.leaseSeconds / 4)))
        while !Task.isCancelled {
            do {
                try await store.heartbeat(identity)
                try await store.settle()
                recovered()
            } catch {
                failed(error)
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func lane(batch: Int) async {
        // Each run's settings, rebuilt from its stored command line once per lane (not per batch: parsing and
        // setting up a runner cost more than a batch's conversations).
        var setups: [String: RunSetup] = [:]
        var cursor = ClaimCursor()
        while !isStopping {
            let claimed: [ClaimedDevice]
            do {
                (claimed, cursor) = try await store.claim(
                    identity, run: onlyRun, limit: batch, excluding: excluded.withLock { Array($0) }, cursor: cursor)
                recovered()
            } catch {
                failed(error)
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            if claimed.isEmpty {
                _ = try? await store.settle()  // marks the run finished now that nothing is left to claim
                if let onlyRun, (try? await store.run(onlyRun))?.isFinished ?? false { return }
                if untilIdle, onlyRun == nil, (try? await store.openWork(identity)) == 0 { return }
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            var start = claimed.startIndex
            while start < claimed.endIndex {
                let runID = claimed[start].runID
                let end = claimed[start...].firstIndex { $0.runID != runID } ?? claimed.endIndex
                if setups[runID] == nil {
                    if setups.count >= 16 { setups.removeAll() }
                    guard let setup = await setup(runID: runID, devices: Array(claimed[start..<end]), batch: batch)
                    else {
                        start = end
                        continue
                    }
                    setups[runID] = setup
                }
                if let setup = setups[runID] {
                    await work(runID: runID, devices: Array(claimed[start..<end]), setup: setup)
                }
                start = end
            }
        }
    }

    /// A run's settings as this machine reads them; nil (the claims given back, the run excluded here) when they do
    /// not hold on this machine.
    private func setup(runID: String, devices: [ClaimedDevice], batch: Int) async -> RunSetup? {
        // The run's parameters: the store may be away; wait for it (the claims are only claims).
        var stored: StoredRun?
        while true {
            do {
                stored = try await store.run(runID)
                recovered()
                break
            } catch {
                failed(error)
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        guard let run = stored else { return nil }
        do {
            return try StoreRun.setup(for: run, forks: batch)
        } catch {
            await exclude(runID: runID, devices: devices, error)
            return nil
        }
    }

    /// The run's settings do not hold on this machine (a preset or TLS file missing): say so once, give the claims
    /// back for a worker that can, and leave this run alone.
    private func exclude(runID: String, devices: [ClaimedDevice], _ error: any Error) async {
        let first = excluded.withLock { $0.insert(runID).inserted }
        if first {
            Console.error("worker \(identity.id) cannot work on run \(runID): \(ErrorText.describe(error))")
        }
        while (try? await store.release(identity, run: runID, positions: devices.map(\.position))) == nil {
            try? await Task.sleep(for: .milliseconds(500))
        }
    }

    /// One batch of one run: intents, the conversations, the outcomes.
    private func work(runID: String, devices: [ClaimedDevice], setup: RunSetup) async {
        var targets: [RunTarget] = []
        do {
            for device in devices {
                targets.append(
                    try setup.target(
                        for: Inventory.Host(
                            name: device.name, values: device.host.values.mapValues { .string($0) },
                            entryPort: device.host.entryPort)))
            }
        } catch {
            await exclude(runID: runID, devices: devices, error)
            return
        }
        // Nothing is sent before its intent is committed: wait for the store as long as it takes.
        var allowed = Set<Int>()
        while true {
            do {
                allowed = try await store.intend(identity, run: runID, positions: devices.map(\.position))
                recovered()
                break
            } catch {
                failed(error)
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        let chosen = devices.indices.filter { allowed.contains(devices[$0].position) }
        guard !chosen.isEmpty else { return }
        let results = await setup.runner.run(chosen.map { targets[$0] })
        completed.add(results.count, ordering: .relaxed)
        await record(runID: runID, zip(chosen, results).map { (devices[$0.0].position, $0.1) })
    }

    /// Records outcomes, retrying until the store takes them.
    private func record(runID: String, _ results: [(position: Int, result: DeviceResult)]) async {
        while true {
            do {
                try await store.record(identity, run: runID, results: results)
                recovered()
                return
            } catch {
                failed(error)
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func failed(_ error: any Error) {
        if error is CancellationError { return }
        if !outage.exchange(true, ordering: .relaxed) {
            Console.error("\(ErrorText.describe(error)); starting nothing new until the store answers")
        }
    }

    private func recovered() {
        if outage.exchange(false, ordering: .relaxed) { Console.error("store \(store.location) answers again") }
    }
}
