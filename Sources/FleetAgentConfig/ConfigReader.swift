import FleetAgent
import FleetFraming
import FleetYAML
import Foundation
import Logging
import Yams

/// Reads an agent configuration file: the top-level settings here, each section in a reader of its own
/// (`ConfigReader+Sections.swift`, `ConfigReader+Commands.swift`), the scalars in `ConfigReader+Scalars.swift`.
/// Every problem is collected with its line.
struct ConfigReader {
    var problems: [AgentConfigFile.Problem] = []
    var extraSections: [String: AgentConfigFile.SectionReader] = [:]
    var base = DeviceAgent.Configuration()
    /// The file's folder: relative paths in `tls:` are taken from it.
    var directory = ""

    mutating func problem(_ node: ConfigNode?, _ message: String) {
        problems.append(.init(line: node?.line ?? 0, message: message))
    }

    /// What the top level gathers before the file is put together (the framing and the commands come last).
    struct TopLevel {
        var file = AgentConfigFile()
        var includeBuiltins = true
        var preset: (name: String, node: ConfigNode)?
        var prefix: [UInt8]?
        var suffix: [UInt8]?
        var replyEnd: [UInt8]?
        var commands: ConfigNode?
    }

    static let topLevel = ConfigKeys<TopLevel>(
        unknown: { "unknown setting '\($0)'" },
        [
            (
                "listen",
                { reader, value, top in
                    top.file.hasListen = true
                    top.file.configuration.listen = reader.listenAddresses(value)
                }
            ),
            (
                "preset",
                { reader, value, top in if let name = reader.string(value, "preset") { top.preset = (name, value) } }
            ),
            ("prefix", { reader, value, top in top.prefix = reader.bytes(value, "prefix") }),
            ("suffix", { reader, value, top in top.suffix = reader.bytes(value, "suffix") }),
            ("reply_end", { reader, value, top in top.replyEnd = reader.bytes(value, "reply_end") }),
            ("limits", { reader, value, top in reader.readLimits(value, into: &top.file.configuration.limits) }),
            (
                "shutdown_grace",
                { reader, value, top in
                    if let grace = reader.duration(value, "shutdown_grace") {
                        top.file.configuration.shutdownGracePeriod = grace
                    }
                }
            ),
            (
                "unknown_reply",
                { reader, value, top in
                    if let text = reader.string(value, "unknown_reply") {
                        top.file.configuration.unknownCommandReply = .text(text)
                    }
                }
            ),
            (
                "log_level",
                { reader, value, top in
                    guard let text = reader.string(value, "log_level") else { return }
                    if let level = Logger.Level(rawValue: text) {
                        top.file.logLevel = level
                    } else {
                        reader.problem(
                            value, "log_level must be one of trace, debug, info, notice, warning, error, critical")
                    }
                }
            ),
            ("metrics", { reader, value, top in top.file.metrics = reader.string(value, "metrics") }),
            ("builtins", { reader, value, top in reader.flag(value, "builtins", into: &top.includeBuiltins) }),
            ("commands", { _, value, top in top.commands = value }),
            ("tls", { reader, value, top in top.file.configuration.tls = reader.readTLS(value) }),
            ("access", { reader, value, top in top.file.configuration.access = reader.readAccess(value) }),
            (
                "allow_plaintext_exec",
                { reader, value, top in
                    reader.flag(value, "allow_plaintext_exec", into: &top.file.configuration.allowPlaintextExec)
                }
            ),
            (
                "allow_anonymous_exec",
                { reader, value, top in
                    reader.flag(value, "allow_anonymous_exec", into: &top.file.configuration.allowAnonymousExec)
                }
            ),
            (
                "exec_allow",
                { reader, value, top in top.file.configuration.execAllow = reader.identityRules(value, "exec_allow") }
            ),
        ])

    mutating func read(_ yaml: String) -> AgentConfigFile {
        var top = TopLevel()
        top.file.configuration = base
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            problems.append(
                .init(
                    line: YAMLErrorText.line(of: error), message: "not valid YAML: \(YAMLErrorText.problem(of: error))")
            )
            return top.file
        }
        guard let root else { return Self.withBuiltins(top.file, include: true) }
        guard let entries = ConfigNode(root).entries else {
            problem(ConfigNode(root), "the file must be a mapping of settings")
            return top.file
        }
        Self.topLevel.read(entries, into: &top, with: &self, more: extraSections)
        var file = top.file
        if let (name, node) = top.preset {
            do {
                file.configuration.format = try FrameFormat.preset(named: name)
            } catch {
                problem(node, "\(error)")
            }
        }
        file.configuration.format = file.configuration.format.customized(
            prefix: top.prefix, suffix: top.suffix, replyEnd: top.replyEnd)
        file = Self.withBuiltins(file, include: top.includeBuiltins)
        if let commands = top.commands { readCommands(commands, into: &file.router) }
        return file
    }

    private static func withBuiltins(_ file: AgentConfigFile, include: Bool) -> AgentConfigFile {
        guard include else { return file }
        var copy = file
        copy.router = .builtins
        return copy
    }
}
