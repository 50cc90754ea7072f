import FleetClient
import FleetFraming
import FleetYAML
import Foundation
import Yams

/// Defaults people set once, in `$FLEETCMD_CONFIG`, else `$XDG_CONFIG_HOME/fleetcmd/config.yaml`
/// (`~/.config/fleetcmd/config.yaml`):
///
/// ```yaml
/// forks: 200              # run --forks
/// connect_timeout: 2s     # --connect-timeout (send, run, shell, watch, probe)
/// reply_timeout: 5s       # --reply-timeout (send, run, shell, watch)
/// preset: pjlink          # --preset (send, run, shell, watch, probe, listen)
/// output: jsonl           # -o (send, run, probe, presets, listen, watch; a command that has no such format keeps its own)
/// ```
///
/// A value applies only where the command line does not give that option: flags always win. `fleetcmd config
/// show` prints every value in effect and where it came from.
struct UserConfig {
    /// One setting: its key in the file, the flag it stands for, and the commands that take that flag.
    struct Key {
        var name: String
        var flag: String
        var commands: Set<String>
        /// The flag's other spellings (a value given with any of them wins over the file).
        var aliases: [String] = []
        /// The built-in default, for `config show`.
        var builtin: String
        /// Formats this command accepts (`output` only): the file's value applies only when it is one of them.
        var accepts: [String: Set<String>] = [:]
    }

    static let keys: [Key] = [
        Key(name: "forks", flag: "--forks", commands: ["run"], builtin: "1000"),
        Key(
            name: "connect_timeout", flag: "--connect-timeout",
            commands: ["send", "run", "shell", "watch", "probe"],
            builtin: DurationArgument(TimeoutOptions.defaults.connect).description),
        Key(
            name: "reply_timeout", flag: "--reply-timeout", commands: ["send", "run", "shell", "watch"],
            builtin: DurationArgument(TimeoutOptions.defaults.reply).description),
        Key(
            name: "preset", flag: "--preset", commands: ["send", "run", "shell", "watch", "probe", "listen"],
            builtin: PresetOptions.defaultPreset),
        Key(
            name: "output", flag: "--output", commands: ["send", "run", "probe", "presets", "listen", "watch"],
            aliases: ["-o", "--format"], builtin: "text",
            accepts: [
                "send": ["text", "hex", "json", "jsonl"], "listen": ["text", "hex", "json", "jsonl"],
                "watch": ["text", "hex", "json", "jsonl"], "run": ["text", "json", "jsonl"],
                "probe": ["text", "json", "jsonl"], "presets": ["text", "json", "jsonl"],
            ]),
    ]

    /// The file's values, by key.
    var values: [String: String] = [:]
    /// Where they came from; `nil` when there is no file.
    var path: String?

    /// The file in effect: `$FLEETCMD_CONFIG`, else `$XDG_CONFIG_HOME/fleetcmd/config.yaml`.
    static func defaultPath(environment: [String: String] = ProcessEnvironment.variables) -> String {
        if let explicit = environment["FLEETCMD_CONFIG"], !explicit.isEmpty { return explicit }
        let home =
            environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (HomeDirectory.path(environment) + "/.config")
        return home + "/fleetcmd/config.yaml"
    }

    /// Reads the file at `path` (none there: no values). Every problem is an error naming the file and line.
    static func load(path: String = defaultPath()) throws -> UserConfig {
        guard FileManager.default.fileExists(atPath: path) else { return UserConfig() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PresetFileError("cannot read \(path)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw PresetFileError(YAMLErrorText.describe(error, path: path))
        }
        var config = UserConfig(values: [:], path: path)
        guard let root else { return config }
        guard case .mapping(let map) = root else { throw PresetFileError("\(path): expected a mapping of settings") }
        for (keyNode, valueNode) in map {
            let line = (keyNode.mark?.line).map { "\(path):\($0)" } ?? path
            guard let name = keyNode.string, let key = keys.first(where: { $0.name == name }) else {
                let known = keys.map(\.name).joined(separator: ", ")
                throw PresetFileError("\(line): unknown setting '\(keyNode.string ?? "?")' (known: \(known))")
            }
            guard let value = valueNode.scalar?.string, !value.isEmpty else {
                throw PresetFileError("\(line): \(name) needs a value")
            }
            if let problem = problem(key: key, value: value) { throw PresetFileError("\(line): \(problem)") }
            config.values[name] = value
        }
        return config
    }

    private static func problem(key: Key, value: String) -> String? {
        switch key.name {
        case "forks":
            return Int(value).map { $0 >= 1 } == true ? nil : "forks must be a whole number of at least 1"
        case "connect_timeout", "reply_timeout":
            return (try? DurationText.parse(value)) == nil ? "\(key.name) must be a duration like 5s or 500ms" : nil
        case "output":
            return ["text", "hex", "json", "jsonl"].contains(value) ? nil : "output must be text, hex, json or jsonl"
        default:
            return nil
        }
    }

    /// `arguments` (the command line after the program name) with this file's values added for the options the
    /// command takes and the line does not give.
    func applied(to arguments: [String]) -> [String] {
        // Shell completion calls back with `---completion`: it completes what is typed, nothing added.
        guard !values.isEmpty, arguments.first?.hasPrefix("---") != true,
            let command = arguments.first(where: { !$0.hasPrefix("-") })
        else { return arguments }
        let options = arguments.prefix { $0 != "--" }
        var added: [String] = []
        for key in Self.keys where key.commands.contains(command) {
            guard let value = values[key.name] else { continue }
            if let accepted = key.accepts[command], !accepted.contains(value) { continue }
            let spellings = [key.flag] + key.aliases
            let given = options.contains { word in spellings.contains { word == $0 || word.hasPrefix($0 + "=") } }
            if !given { added += [key.flag, value] }
        }
        guard !added.isEmpty else { return arguments }
        guard let end = arguments.firstIndex(of: "--") else { return arguments + added }
        return Array(arguments[..<end]) + added + Array(arguments[end...])
    }
}
