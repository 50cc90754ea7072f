import ArgumentParser
import FleetStore
import Synchronization
import UnixSignals

/// `fleetcmd worker`: joins the open runs of a store and works on their devices with others.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Work on the open runs of a PostgreSQL run store, with other workers on other machines.",
        discussion: """
            Claims batches of devices of open runs (created by `fleetcmd run --store URL`), commits each device's \
            intent before its first byte, talks to it with the run's settings (its command line, read on this \
            machine: presets, TLS files and $FLEETCMD_PASSWORD are this machine's), and records the outcome. With \
            --site NAME it claims the devices whose inventory sets fleetcmd_site to NAME, and those with no site; \
            without, only those with no site. A claim not started within --lease is claimed again by another \
            worker; a device whose worker stopped heart-beating for --lease after its intent is recorded as \
            unknown, never sent again (unless the run is --idempotent). SIGINT/SIGTERM: nothing new is claimed; \
            conversations in flight finish and are recorded. See docs/distributed.md.
            """
    )

    @OptionGroup var store: StoreOptions

    @Option(help: ArgumentHelp("Claim this site's devices (inventory variable fleetcmd_site).", valueName: "name"))
    var site: String?

    @Option(help: "Conversations in flight at once.")
    var forks = 1000

    @Option(
        help: ArgumentHelp(
            "How long a claim may wait, and how long this worker may be silent, before others take over.",
            valueName: "duration"))
    var lease = DurationArgument(.seconds(30))

    @Flag(help: "Exit once no open run has a device this worker may claim.")
    var untilIdle = false

    func validate() throws {
        guard try store.location != nil else {
            throw ValidationError("give the store with --store URL (or $FLEETCMD_STORE)")
        }
        guard forks >= 1 else { throw ValidationError("--forks must be at least 1") }
        guard lease.value >= .milliseconds(500) else { throw ValidationError("--lease must be at least 500ms") }
    }

    func run() async throws {
        guard let location = try store.location else { return }
        let identity = StoreRun.newWorker(site: site, lease: lease.value)
        let forks = self.forks
        let untilIdle = self.untilIdle
        try await StoreRun.withStore(location) { store in
            Console.error("worker \(identity.id)\(identity.site.map { " (site \($0))" } ?? ""): store \(location)")
            let worker = StoreWorker(store: store, identity: identity, forks: forks, untilIdle: untilIdle)
            let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await worker.run() }
                group.addTask {
                    for await _ in signals {
                        Console.error("stopping: finishing conversations in flight")
                        worker.stop()
                        return
                    }
                }
                await group.next()
                if worker.isStopping { await group.next() } else { group.cancelAll() }
            }
            Console.error("worker \(identity.id): \(worker.completed.load(ordering: .relaxed)) devices done")
        }
    }
}
