import ArgumentParser
import FleetClient
import FleetFraming
import FleetInventory
import FleetRunner
import FleetStore
import FleetTLS
import Foundation
import NIOConcurrencyHelpers
import UnixSignals

/// `fleetcmd run`: one command (or several) to every device of an inventory.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Send commands to every device of an inventory, concurrently, with a journal that never sends twice.",
        discussion: """
            Reads Ansible INI or YAML inventories or plain host[:port] lists (-i - reads stdin). Each device gets \
            the commands in order over one connection; the address comes from ansible_host (else the name) and \
            fleetcmd_port or device_port (else --port); fleetcmd_preset sets a group's framing; fleetcmd_tls, \
            fleetcmd_ca_file, fleetcmd_servername, fleetcmd_pin, fleetcmd_cert, fleetcmd_key set a group's TLS \
            (over the --tls flags; fleetcmd_tls=false turns it off). Failures before \
            anything was sent (refused, unreachable, connect timeout) are retried with back-off; nothing is resent \
            after bytes were written unless --idempotent. Every run is journaled (an intent before the first byte, \
            an outcome after); --resume RUN finishes an interrupted run without resending. Exit status: 0 all ok, \
            10 some error replies, 11 some devices failed, 12 some outcomes unknown, 13 interrupted, 64 usage, \
            78 invalid inventory. See docs/runner.md.
            """
    )

    @OptionGroup var selection: InventoryOptions

    @Flag(help: "Print the selected devices (name and address) and exit.")
    var listHosts = false

    @Argument(help: ArgumentHelp("Commands to send, in order, to every device.", valueName: "command"))
    var commands: [String] = []

    @Flag(help: "Read each COMMAND as hex digits.")
    var hex = false

    @OptionGroup var client: ClientOptions

    @Option(help: "Port for devices whose inventory entry names none. Default: their preset's (9100 for esc-cr).")
    var port: Int?

    @Option(help: "Conversations in flight at once.")
    var forks = 1000

    @Option(help: ArgumentHelp("Start at most this many conversations per second (N or N/s).", valueName: "rate"))
    var rate: String?

    @Option(help: "Retries after failures that happened before anything was sent.")
    var retries = 2

    @Option(help: ArgumentHelp("First retry delay; doubles each time, ±50 % jitter.", valueName: "duration"))
    var retryBackoff = DurationArgument(.milliseconds(200))

    @Flag(help: "The commands are safe to repeat: retry after any failure, and resend on --resume.")
    var idempotent = false

    @Flag(help: "Stop sending a device's later commands after its first error reply.")
    var stopOnError = false

    @Option(help: ArgumentHelp("Regular expression that marks a reply as an error.", valueName: "regex"))
    var errorPattern = "^ERR"

    @Option(
        help: ArgumentHelp(
            "Mask what this regular expression matches (its first group, if it has one) before replies are grouped, e.g. 'uptime=(\\d+)s' (repeatable).",
            valueName: "regex"))
    var normalize: [String] = []

    @Option(
        name: [.customShort("o"), .customLong("output"), .customLong("format")],
        help: "Output: text (grouped), json (one document: an array) or jsonl (one object per device as it finishes).")
    var format = RunOutputFormat.text

    @Option(
        help: ArgumentHelp("Write the names of devices that ended ok to this file.", valueName: "path"),
        completion: .file())
    var okHosts: String?

    @Option(
        help: ArgumentHelp(
            "Write the names of devices that did not end ok to this file (use with --limit @file).", valueName: "path"),
        completion: .file())
    var failedHosts: String?

    @Option(
        help: ArgumentHelp("Journal file. Default: STATE_DIR/runs/RUN_ID.jsonl.", valueName: "path"),
        completion: .file())
    var journal: String?

    @Flag(help: "Keep no journal (the run cannot be resumed, and nothing proves what was sent).")
    var noJournal = false

    @Option(help: ArgumentHelp("Finish an earlier run (its id or journal path) without resending.", valueName: "run"))
    var resume: String?

    @Option(
        help: ArgumentHelp(
            "Run only shard K of N (1-based): a stable hash split of the selected devices.", valueName: "K/N"))
    var shard: String?

    @Flag(inversion: .prefixedNo, help: "Show a live progress line on stderr (default: when stderr is a terminal).")
    var progress: Bool?

    @OptionGroup var store: StoreOptions

    @Flag(help: "With --store: create the run in the store, print its id, and leave the work to `fleetcmd worker`.")
    var detach = false

    func validate() throws {
        if resume == nil {
            guard !selection.inventory.isEmpty else {
                throw ValidationError("give an inventory with -i (or --resume a run)")
            }
            guard !commands.isEmpty || listHosts else { throw ValidationError("give at least one COMMAND") }
        }
        guard forks >= 1 else { throw ValidationError("--forks must be at least 1") }
        if detach, try store.location == nil { throw ValidationError("--detach needs --store") }
        guard retries >= 0 else { throw ValidationError("--retries must be 0 or more") }
        _ = try shardNumbers()
        _ = try rateValue()
        _ = try payloads()
        do {
            _ = try Regex(errorPattern)
        } catch {
            throw ValidationError("--error-pattern is not a valid regular expression: \(errorPattern)")
        }
        do {
            _ = try ReplyNormalizer(normalize)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func run() async throws {
        if let resume, let location = try store.location {
            try await StoreRun.resume(resume, run: self, store: location)
        } else if let resume {
            let path = StateDirectory.journalPath(forRun: resume)
            let (journal, contents): (RunJournal, RunJournal.Contents)
            do {
                (journal, contents) = try RunJournal.reopen(path: path)
            } catch {
                Console.error("cannot resume \(resume): \(error)")
                throw ExitCode(ExitStatus.usage)
            }
            var original = try Run.parse(contents.header.arguments)
            if let directory = contents.header.directory {
                original.selection.inventory = original.selection.inventory.map { source in
                    // Relative paths were relative to the first run's folder; comma lists and stdin stay as they are.
                    guard source != "-", !source.hasPrefix("/"),
                        !(source.contains(",") && !FileManager.default.fileExists(atPath: source))
                    else { return source }
                    return (directory as NSString).appendingPathComponent(source)
                }
            }
            // Output settings and --idempotent come from this command line; everything else from the journal.
            // A password is never in the journal: this command line, $FLEETCMD_PASSWORD, or a prompt.
            let givenNow = client.password.password != nil || client.password.passwordFile != nil
            if givenNow { original.client.password = client.password }  // else the first run's --password-file, if any
            if contents.header.redacted?.contains("password") == true, !givenNow,
                ProcessEnvironment.variables["FLEETCMD_PASSWORD"] == nil
            {
                guard let typed = PasswordOptions.prompt("device password for run \(resume): ") else {
                    Console.error(
                        "run \(resume) used a device password, which is not kept in the journal: give it with "
                            + "--password-file, $FLEETCMD_PASSWORD, or run this on a terminal to be asked")
                    throw ExitCode(ExitStatus.usage)
                }
                PasswordOptions.typed = typed
            }
            original.format = format
            original.okHosts = okHosts
            original.failedHosts = failedHosts
            original.progress = progress
            original.idempotent = original.idempotent || idempotent
            try await original.execute(resuming: (journal, contents))
        } else {
            try await execute(resuming: nil)
        }
    }

    private func execute(resuming: (journal: RunJournal, contents: RunJournal.Contents)?) async throws {
        let setup = try RunSetup(self)
        let hosts = try selectHosts()
        var targets: [RunTarget] = []
        targets.reserveCapacity(hosts.count)
        for host in hosts { targets.append(try setup.target(for: host)) }
        if listHosts {
            Console.out(lines: targets.lazy.map { "\($0.name) \($0.address)" })
            return
        }
        if let store = try store.location {
            try await StoreRun(run: self).start(hosts: hosts, targets: targets, store: store, setup: setup)
            return
        }
        let payloads = setup.payloads
        let runner = setup.runner

        // The journal: a new one, or the resumed run's.
        let journal: RunJournal?
        var carried: [DeviceResult] = []
        var toRun = targets
        if let resuming {
            journal = resuming.journal
            let plan = ResumePlan(targets: targets, journal: resuming.contents, isIdempotent: idempotent)
            toRun = plan.toRun
            carried = plan.carried
            for result in carried where result.outcome == .unknown && resuming.contents.outcomes[result.device] == nil {
                _ = try? resuming.journal.outcome(result)  // an interrupted device stays unknown on every later resume
            }
            Console.error(
                "resuming run \(resuming.contents.header.id): \(carried.count) devices settled, \(toRun.count) to run (journal \(resuming.journal.path))"
            )
        } else if noJournal {
            journal = nil
        } else {
            let id = StateDirectory.newRunID()
            let path = self.journal ?? StateDirectory.journalPath(forRun: id)
            let (arguments, redacted) = PasswordOptions.redacting(Self.originalArguments())
            var header = RunJournal.Header(
                id: id, started: Date().timeIntervalSince1970, arguments: arguments,
                commands: payloads.map(\.shown), devices: targets.count,
                directory: FileManager.default.currentDirectoryPath)
            if redacted { header.redacted = ["password"] }
            do {
                journal = try RunJournal.create(path: path, header: header)
            } catch {
                let hint = self.journal == nil ? " (journal elsewhere: --journal FILE or $FLEETCMD_STATE_DIR)" : ""
                Console.error("\(error)\(hint)")
                throw ExitCode(ExitStatus.failure)
            }
            Console.error("run \(id): \(targets.count) devices (journal \(path))")
        }

        let format = self.format
        if format == .jsonl { for result in carried { Console.out(RunReport.json(result)) } }
        let live = Progress(total: toRun.count, live: progress ?? Console.stderrTakesEscapes)
        let began = ContinuousClock.now
        // SIGINT/SIGTERM: start nothing new, let conversations in flight finish, report the rest as skipped.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let targetsToRun = toRun
        // Results are tallied as they finish, not kept (one JSON document, `--format json`, needs them all):
        // the report needs a group number per device, so memory does not grow with what devices answered.
        let keeping = format == .json
        let normalizer = try ReplyNormalizer(normalize)
        let tally = NIOLockedValueBox(RunTally(devices: keeping ? 0 : targets.count, normalizer: normalizer))
        var position: [Int] = []  // toRun's index -> targets' index (a resumed run runs a subset of targets)
        if !keeping, resuming != nil {
            let indexOf = Dictionary(targets.indices.map { (targets[$0].name, $0) }, uniquingKeysWith: { a, _ in a })
            position = toRun.map { indexOf[$0.name]! }  // toRun is a subset of targets
            tally.withLockedValue { tally in
                for result in carried { if let index = indexOf[result.device] { tally.add(result, at: index) } }
            }
        }
        let positions = position
        let ran = await withTaskGroup(of: [DeviceResult]?.self) { group in
            group.addTask {
                await runner.run(targetsToRun, journal: journal, keepingResults: keeping) {
                    index, result, json, progress in
                    if format == .jsonl { Console.buffered(json ?? RunReport.json(result)) }
                    if !keeping {
                        let at = positions.isEmpty ? index : positions[index]
                        tally.withLockedValue { $0.add(result, at: at) }
                    }
                    live.update(progress.done, ok: progress.ok, inFlight: progress.inFlight)
                }
            }
            group.addTask {
                for await _ in signals {
                    Console.error("interrupted: finishing conversations in flight; resume with --resume")
                    return nil
                }
                return nil
            }
            var ran: [DeviceResult] = []
            // The first to end (the run, or a signal) cancels the other: a cancelled run starts nothing new and
            // returns what it did; a cancelled watcher stops listening.
            while let next = await group.next() {
                if let results = next { ran = results }
                group.cancelAll()
            }
            return ran
        }
        live.finish()
        journal?.sync()
        let elapsed = ContinuousClock.now - began
        var final: RunTally
        if keeping {
            let byName = Dictionary((carried + ran).map { ($0.device, $0) }, uniquingKeysWith: { first, _ in first })
            let results = targets.compactMap { byName[$0.name] }
            Console.out("[" + results.map(RunReport.json).joined(separator: ",\n") + "]")
            final = RunTally(results, normalizer: normalizer)
        } else {
            final = tally.withLockedValue { $0 }
            // Devices that never started (interrupted) are skipped (the runner returned just those: `ran`).
            final.skipUnfinished()
        }
        try finish(final, names: targets.map(\.name), elapsed: elapsed)
    }

    /// The report of a run whose results all come at the end (a store's run): as `run` prints its own.
    func report(_ results: [DeviceResult], elapsed: Duration) throws {
        switch format {
        case .json: Console.out("[" + results.map(RunReport.json).joined(separator: ",\n") + "]")
        case .jsonl: for result in results { Console.out(RunReport.json(result)) }
        case .text: break
        }
        try finish(
            RunTally(results, normalizer: try ReplyNormalizer(normalize)), names: results.map(\.device),
            elapsed: elapsed)
    }

    /// The grouped report or summary, the host lists, and the exit status.
    private func finish(_ final: RunTally, names: [String], elapsed: Duration) throws {
        if format == .text {
            for line in final.lines(names: names, elapsed: elapsed) { Console.out(line) }
        } else {
            Console.error(final.summary(elapsed: elapsed))
        }
        if let okHosts { write(final.names(names, where: { $0 == .ok }), to: okHosts) }
        if let failedHosts { write(final.names(names, where: { $0 != .ok }), to: failedHosts) }
        let status = final.exitStatus
        if status != ExitStatus.success { throw ExitCode(status) }
    }

    private func write(_ names: [String], to path: String) {
        do {
            try Data(names.map { $0 + "\n" }.joined().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            Console.error("cannot write \(path): \(ErrorText.describe(error))")
        }
    }

    /// The inventory's selected devices (of this shard).
    private func selectHosts() throws -> [Inventory.Host] {
        let parsed = try InventorySelection.load(selection.inventory)
        var hosts = try InventorySelection.select(parsed, limit: selection.limit)
        if let (index, count) = try shardNumbers() {
            hosts = hosts.filter { $0.shard(of: count) == index - 1 }
            if hosts.isEmpty {
                Console.error("shard \(index)/\(count) of the selection holds no device; nothing to do")
                throw ExitCode(ExitStatus.usage)
            }
        }
        return hosts
    }

    func payloads() throws -> [(bytes: [UInt8], shown: String)] {
        try commands.map { command in
            do {
                return (hex ? try ByteEscapes.parseHex(command) : try ByteEscapes.parse(command), command)
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    private func shardNumbers() throws -> (Int, Int)? {
        guard let shard else { return nil }
        let parts = shard.split(separator: "/").compactMap { Int($0) }
        guard parts.count == 2, parts[1] >= 1, (1...parts[1]).contains(parts[0]) else {
            throw ValidationError("--shard must be K/N with 1 <= K <= N, not '\(shard)'")
        }
        return (parts[0], parts[1])
    }

    func rateValue() throws -> Double? {
        guard let rate else { return nil }
        let number = rate.hasSuffix("/s") ? String(rate.dropLast(2)) : rate
        guard let value = Double(number), value > 0 else {
            throw ValidationError("--rate must be N or N/s with N > 0, not '\(rate)'")
        }
        return value
    }

    /// This process's arguments after `run`, as given.
    static func originalArguments() -> [String] {
        let arguments = CommandLine.arguments
        guard let index = arguments.firstIndex(of: "run") else { return Array(arguments.dropFirst()) }
        return Array(arguments[(index + 1)...])
    }
}
