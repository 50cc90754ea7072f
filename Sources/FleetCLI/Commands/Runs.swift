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

        func run() async throws {
            let directory = StateDirectory.runs
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { $0.hasSuffix(".jsonl") }.sorted()
            guard !files.isEmpty else {
                Console.err("no runs in \(directory)")
                return
            }
            Console.out("RUN                   DEVICES  OK  NOT-OK  PENDING  COMMANDS")
            for file in files {
                guard let contents = try? RunJournal.read(path: (directory as NSString).appendingPathComponent(file))
                else { continue }
                let outcomes = contents.outcomes.values
                let ok = outcomes.filter { $0.outcome == .ok }.count
                let pending = contents.header.devices - outcomes.count
                Console.out(
                    "\(contents.header.id.padding(toLength: 21, withPad: " ", startingAt: 0)) \(pad(contents.header.devices, 7))  \(pad(ok, 2))  \(pad(outcomes.count - ok, 6))  \(pad(pending, 7))  \(contents.header.commands.joined(separator: " "))"
                )
            }
        }

        private func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: " ", count: max(0, width - text.count)) + text
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Summarise one run: parameters, outcomes, failures.")

        @Argument(help: ArgumentHelp("A run id or a journal path.", valueName: "run"))
        var run: String

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
            let started = Date(timeIntervalSince1970: header.started)
            Console.out("run \(header.id), started \(started) (journal \(path))")
            Console.out("command line: fleetcmd run \(header.arguments.joined(separator: " "))")
            var counts: [Outcome: [String]] = [:]
            for result in contents.outcomes.values.sorted(by: { $0.device < $1.device }) {
                counts[result.outcome, default: []].append(result.device)
            }
            let interrupted = contents.intents.subtracting(contents.outcomes.keys)
            let pending = header.devices - contents.outcomes.count - interrupted.count
            Console.out("\(header.devices) devices:")
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
    }
}
