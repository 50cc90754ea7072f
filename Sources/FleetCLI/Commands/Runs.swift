import ArgumentParser
import FleetRunner
import Foundation

/// `fleetcmd runs`: past runs, from their journals.
struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List past runs (from their journals), or summarise one.",
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list", abstract: "List past runs, newest last.")

        @Option(name: .shortAndLong, help: "Output: text (a table), json (one document: an array) or jsonl.")
        var output = OutputFormat.text

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

    /// Rows as aligned columns, two spaces apart: the first and last left-aligned, the counts between right-aligned.
    static func table(_ rows: [[String]]) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        let widths = (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { column -> String in
                let gap = String(repeating: " ", count: widths[column] - row[column].count)
                if column == columns - 1 { return row[column] }
                return column == 0 ? row[column] + gap : gap + row[column]
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
            /// The machine that ran it (`null` for a file journal: this one) and its site.
            var worker: String?
            var site: String?
        }

        func validate() throws { try output.require([.text, .json, .jsonl], for: "runs show") }

        func run() async throws {
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
