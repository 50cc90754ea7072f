import ArgumentParser
import FleetRunner
import FleetStore
import Foundation

extension Runs {
    /// `fleetcmd runs watch ID --store URL`: a shared run's progress, by site and by worker, until every device has
    /// an outcome. On a terminal the view is redrawn in place; elsewhere a line is printed when the counts change and
    /// the whole view at the end; `-o jsonl` prints a record per change.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "watch",
            abstract: "Follow a shared run's progress by site and worker until every device has an outcome.",
            discussion: """
                Reads the run store (--store or $FLEETCMD_STORE) every --interval seconds. Exits when every device \
                has an outcome, with the status `run` gives (0 every device ok, 10 an error reply, 11 a failure, \
                12 an outcome unknown). A store that cannot be reached is reported and read again.
                """)

        @Argument(help: ArgumentHelp("The run's id (as `run --store` or `runs --store` print it).", valueName: "run"))
        var run: String

        @Option(help: ArgumentHelp("Seconds between readings of the store.", valueName: "seconds"))
        var interval: Double = 1

        @Option(name: .shortAndLong, help: "Output: text (a view of the run), or jsonl (a record per change).")
        var output = OutputFormat.text

        @OptionGroup var store: StoreOptions

        func validate() throws {
            try output.require([.text, .jsonl], for: "runs watch")
            guard interval > 0, interval <= 3600 else {
                throw ValidationError("--interval must be more than 0 and at most 3600 seconds")
            }
        }

        func run() async throws {
            guard let location = try store.location else {
                Console.error(
                    "runs watch follows a run in a store: give --store URL or set $FLEETCMD_STORE (a run with a "
                        + "journal file shows its progress where it runs; `runs show \(run)` summarises it)")
                throw ExitCode(ExitStatus.usage)
            }
            let id = run
            let output = self.output
            let pause = Duration.milliseconds(Int((interval * 1000).rounded()))
            let status = try await StoreRun.withStore(location) { store -> Int32 in
                guard let stored = try await store.run(id) else {
                    Console.error("no run \(id) in store \(location)")
                    throw ExitCode(ExitStatus.usage)
                }
                let terminal = output == .text && Console.stdoutIsTerminal && Console.termTakesEscapes
                var shown: RunProgress?
                var storeWasDown = false
                while true {
                    let progress: RunProgress
                    let workers: [WorkerStatus]
                    do {
                        progress = try await store.progress(of: id)
                        workers = try await store.workers(progress.byWorker.keys.sorted())
                        if storeWasDown { Console.error("store \(location) answers again") }
                        storeWasDown = false
                    } catch let error as StoreError {
                        if !storeWasDown { Console.error("\(error); reading it again every \(interval) s") }
                        storeWasDown = true
                        try await Task.sleep(for: pause)
                        continue
                    }
                    let view = WatchView(run: stored, progress: progress, workers: workers)
                    switch output {
                    case .jsonl:
                        if progress != shown { Console.out(Render.json(view.record)) }
                    default:
                        if terminal {
                            Console.out(lines: ["\u{1B}[H\u{1B}[2J" + view.headline] + view.tables)
                        } else if progress != shown {
                            Console.out(view.headline)
                            if progress.isFinished { Console.out(lines: view.tables) }
                        }
                    }
                    shown = progress
                    if progress.isFinished { return WatchView.exitStatus(progress) }
                    try await Task.sleep(for: pause)
                }
            }
            if status != ExitStatus.success { throw ExitCode(status) }
        }
    }
}
