import ArgumentParser
import FleetRunner
import FleetStore
import Foundation

/// `fleetcmd runs`: past runs, from their journals.
struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List past runs (from their journals), or summarise one.",
        subcommands: [List.self, Show.self, Watch.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List past runs, newest last.")

        @Option(name: .shortAndLong, help: "Output: text (a table), json (one document: an array) or jsonl.")
        var output = OutputFormat.text

        @OptionGroup var store: StoreOptions

        struct Record: Encodable {
            var run: String
            var started: String
            var devices: Int
            var ok: Int
            var notOk: Int
            var pending: Int
            var commands: [String]

            enum CodingKeys: String, CodingKey {
                case run, started, devices, ok, pending, commands
                case notOk = "not_ok"
            }
        }

        func validate() throws { try output.require([.text, .json, .jsonl], for: "runs list") }

        func run() async throws {
            if let location = try store.location {
                let output = self.output
                let rows = try await StoreRun.withStore(location) { store in
                    var records: [Record] = []
                    for run in try await store.runs() {
                        let progress = try await store.progress(of: run.id)
                        records.append(
                            Record(
                                run: run.id, started: Runs.timestamp(run.created), devices: run.devices,
                                ok: progress.ok,
                                notOk: progress.done - progress.ok, pending: progress.total - progress.done,
                                commands: run.commands))
                    }
                    return records
                }
                let records = JSONRecords(output)
                defer { records.finish() }
                if output.isJSON {
                    for row in rows { records.emit(row) }
                } else {
                    let table = rows.map { row in
                        [
                            row.run, String(row.devices), String(row.ok), String(row.notOk), String(row.pending),
                            row.commands.joined(separator: " "),
                        ]
                    }
                    for line in Runs.table([["RUN", "DEVICES", "OK", "NOT-OK", "PENDING", "COMMANDS"]] + table) {
                        Console.out(line)
                    }
                }
                return
            }
            let directory = StateDirectory.runs
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".jsonl") }.sorted()
            let records = JSONRecords(output)
            defer { records.finish() }
            guard !files.isEmpty else {
                Console.err("no runs in \(directory)")
                return
            }
            var rows = [["RUN", "DEVICES", "OK", "NOT-OK", "PENDING", "COMMANDS"]]
            for file in files {
                guard let contents = try? RunJournal.read(path: (directory as NSString).appendingPathComponent(file))
                else { continue }
                let outcomes = contents.outcomes.values
                let ok = outcomes.filter { $0.outcome == .ok }.count
                let pending = contents.header.devices - outcomes.count
                if output.isJSON {
                    records.emit(
                        Record(
                            run: contents.header.id, started: Runs.timestamp(contents.header.started),
                            devices: contents.header.devices, ok: ok, notOk: outcomes.count - ok, pending: pending,
                            commands: contents.header.commands))
                    continue
                }
                rows.append([
                    contents.header.id, String(contents.header.devices), String(ok), String(outcomes.count - ok),
                    String(pending), contents.header.commands.joined(separator: " "),
                ])
            }
            if !output.isJSON { for line in Runs.table(rows) { Console.out(line) } }
        }
    }

    /// Rows as aligned columns, two spaces apart: the counts right-aligned, the text columns (by default the first
    /// and the last) left-aligned.
    static func table(_ rows: [[String]], textColumns: Set<Int>? = nil) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        let left = textColumns ?? [0, columns - 1]
        let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { column -> String in
                let gap = String(repeating: " ", count: widths[column] - row[column].count)
                if column == columns - 1 { return left.contains(column) ? row[column] : gap + row[column] }
                return left.contains(column) ? row[column] + gap : gap + row[column]
            }.joined(separator: "  ")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Summarise one run: parameters, outcomes, failures.")

        @Argument(help: ArgumentHelp("A run id or a journal path.", valueName: "run"))
        var run: String

        @Option(
            name: .shortAndLong,
            help:
                "Output: text, json (one document: the run with its counts and every device) or jsonl (a device per line)."
        )
        var output = OutputFormat.text

        @OptionGroup var store: StoreOptions

        /// `runs show -o json`: the run, its counts per outcome, and every device (the same records as `run -o json`,
        /// plus the devices whose outcome is unknown or that were never attempted).
        struct Document: Encodable {
            var run: String
            var started: String
            var commandLine: [String]
            var devices: Int
            var counts: [String: Int]
            var results: [DeviceRecord]

            enum CodingKeys: String, CodingKey {
                case run, started, devices, counts, results
                case commandLine = "command_line"
            }
        }

        struct DeviceRecord: Encodable {
            var device: String
            var address: String?
            var outcome: String
            var replies: [String]?
            var error: String?
            /// The machine that ran it (`null` for a file journal: this one) and its site: always there, so every
            /// record has the same fields.
            @NullWhenAbsent var worker: String?
            @NullWhenAbsent var site: String?
        }

        func validate() throws { try output.require([.text, .json, .jsonl], for: "runs show") }

        func run() async throws {
            if let location = try store.location {
                try await showStored(location)
                return
            }
            let path = StateDirectory.journalPath(forRun: run)
            let contents: RunJournal.Contents
            do {
                contents = try RunJournal.read(path: path)
            } catch {
                Console.error("\(error)")
                throw ExitCode(ExitStatus.usage)
            }
            let header = contents.header
            if output.isJSON {
                showJSON(contents)
                return
            }
            let started = Date(timeIntervalSince1970: header.started)
            Console.out("run \(header.id), started \(started) (journal \(path))")
            Console.out("command line: fleetcmd run \(header.arguments.joined(separator: " "))")
            var counts: [Outcome: [String]] = [:]
            for result in contents.outcomes.values.sorted(by: { $0.device < $1.device }) {
                counts[result.outcome, default: []].append(result.device)
            }
            let interrupted = contents.intents.subtracting(contents.outcomes.keys)
            let pending = header.devices - contents.outcomes.count - interrupted.count
            Console.out("\(header.devices) device\(header.devices == 1 ? "" : "s"):")
            for outcome in counts.keys.sorted() {
                let names = counts[outcome]!  // key from the dictionary
                Console.out(
                    "  \(outcome.rawValue) (\(names.count))\(outcome == .ok ? "" : ": " + HostList.fold(names))")
            }
            if !interrupted.isEmpty {
                Console.out(
                    "  interrupted, outcome unknown (\(interrupted.count)): \(HostList.fold(interrupted.sorted()))")
            }
            if pending > 0 { Console.out("  not attempted (\(pending))") }
            if !interrupted.isEmpty || pending > 0 { Console.out("finish it with: fleetcmd run --resume \(header.id)") }
        }

        /// A run of a store: the same document, with each device's worker and site; devices still in flight or
        /// not started are `in-flight` and `pending`.
        private func showStored(_ location: StoreLocation) async throws {
            let id = run
            let format = output
            try await StoreRun.withStore(location) { store in
                guard let stored = try await store.run(id) else {
                    Console.error("no run \(id) in store \(location)")
                    throw ExitCode(ExitStatus.usage)
                }
                let devices = try await store.devices(of: id)
                let results = devices.map { device in
                    DeviceRecord(
                        device: device.name, address: device.address,
                        outcome: device.result?.outcome.rawValue
                            ?? (device.state == "sending" ? "in-flight" : "pending"),
                        replies: device.result?.replies, error: device.result?.error, worker: device.worker,
                        site: device.site)
                }
                var counts: [String: Int] = [:]
                for result in results { counts[result.outcome, default: 0] += 1 }
                switch format {
                case .jsonl: for result in results { Console.out(Render.json(result)) }
                case .json:
                    Console.out(
                        Render.json(
                            Document(
                                run: stored.id, started: Runs.timestamp(stored.created), commandLine: stored.arguments,
                                devices: stored.devices, counts: counts, results: results)))
                default:
                    Console.out(
                        "run \(stored.id), started \(Runs.timestamp(stored.created)) (store \(location))\(stored.isFinished ? "" : ", open")"
                    )
                    Console.out("command line: fleetcmd run \(stored.arguments.joined(separator: " "))")
                    Console.out("\(stored.devices) device\(stored.devices == 1 ? "" : "s"):")
                    for (outcome, count) in counts.sorted(by: { $0.key < $1.key }) {
                        let names = results.filter { $0.outcome == outcome }.map(\.device)
                        Console.out("  \(outcome) (\(count))\(outcome == "ok" ? "" : ": " + HostList.fold(names))")
                    }
                    var bySite: [String: Int] = [:]
                    var byWorker: [String: Int] = [:]
                    for device in devices where device.result != nil {
                        bySite[device.site ?? "(none)", default: 0] += 1
                        byWorker[device.worker ?? "?", default: 0] += 1
                    }
                    Console.out(
                        "by site: "
                            + bySite.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                    Console.out(
                        "by worker: "
                            + byWorker.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(
                                separator: ", "))
                }
            }
        }

        private func showJSON(_ contents: RunJournal.Contents) {
            let header = contents.header
            var results = contents.outcomes.values.sorted { $0.device < $1.device }.map { result in
                DeviceRecord(
                    device: result.device, address: result.address, outcome: result.outcome.rawValue,
                    replies: result.replies, error: result.error)
            }
            for name in contents.intents.subtracting(contents.outcomes.keys).sorted() {
                results.append(
                    DeviceRecord(
                        device: name, outcome: "unknown",
                        error: "interrupted after its commands may have been sent (the journal has no outcome)"))
            }
            var counts: [String: Int] = [:]
            for result in results { counts[result.outcome, default: 0] += 1 }
            let pending = header.devices - results.count
            if pending > 0 { counts["skipped", default: 0] += pending }
            if output == .jsonl {
                for result in results { Console.out(Render.json(result)) }
                return
            }
            Console.out(
                Render.json(
                    Document(
                        run: header.id, started: Runs.timestamp(header.started), commandLine: header.arguments,
                        devices: header.devices, counts: counts, results: results)))
        }
    }

    /// A journal's start time as ISO 8601 (UTC, milliseconds).
    static func timestamp(_ seconds: Double) -> String { Render.timestamp(Date(timeIntervalSince1970: seconds)) }
}
