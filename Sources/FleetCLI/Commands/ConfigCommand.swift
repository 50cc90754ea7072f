import ArgumentParser
import Foundation

/// `fleetcmd config show`: the defaults in effect and where each comes from.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show the defaults set in your config file ($XDG_CONFIG_HOME/fleetcmd/config.yaml).",
        discussion: """
            The file sets defaults for options people give every time: forks, connect_timeout, reply_timeout, \
            preset, output. A flag on the command line always wins over the file. $FLEETCMD_CONFIG names another \
            file. An unknown setting or a bad value is an error naming the file and line (exit 78).
            """,
        subcommands: [Show.self], defaultSubcommand: Show.self)

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show", abstract: "Print every setting, its value and where the value comes from.")

        @Option(name: .shortAndLong, help: "Output: text (a table), json (one document) or jsonl.")
        var output = OutputFormat.text

        struct Record: Encodable {
            var setting: String
            var value: String
            var source: String
            var flag: String
        }

        func validate() throws { try output.require([.text, .json, .jsonl], for: "config show") }

        func run() throws {
            let path = UserConfig.defaultPath()
            let config: UserConfig
            do {
                config = try UserConfig.load(path: path)
            } catch {
                Console.error("\(error)")
                throw ExitCode(ExitStatus.configInvalid)
            }
            let records = UserConfig.keys.map { key in
                Record(
                    setting: key.name, value: config.values[key.name] ?? key.builtin,
                    source: config.values[key.name] == nil ? "default" : path, flag: key.flag)
            }
            if output.isJSON {
                let printer = JSONRecords(output)
                for record in records { printer.emit(record) }
                printer.finish()
                return
            }
            let width = (UserConfig.keys.map(\.name.count).max() ?? 0) + 2
            let valueWidth = (records.map(\.value.count).max() ?? 0) + 2
            for record in records {
                Console.out(
                    record.setting.padding(toLength: width, withPad: " ", startingAt: 0)
                        + record.value.padding(toLength: valueWidth, withPad: " ", startingAt: 0) + "(\(record.source))"
                )
            }
            if config.path == nil { Console.out("(no config file at \(path))") }
        }
    }
}
