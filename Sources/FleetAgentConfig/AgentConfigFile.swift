public import FleetAgent
import Foundation
public import Logging

/// The `fleetcmd agent` configuration file, read into a ``DeviceAgent/Configuration`` and a ``CommandRouter``.
///
/// ```yaml
/// listen: ["0.0.0.0:9100"]          # host:port strings; default 0.0.0.0:9100
/// preset: esc-cr                    # and optionally prefix:, suffix:, reply_end:
/// limits: {max_frame: 4KiB, idle_timeout: 60s, frame_timeout: 10s, max_connections: 1024,
///          max_connections_per_source: 64, max_concurrent_execs: 4, max_echo: 1KiB}
/// shutdown_grace: 10s
/// unknown_reply: "ERR unknown command"
/// log_level: info
/// metrics: 127.0.0.1:9464
/// builtins: true                    # serve PING, ECHO, STATUS, VERSION, UPTIME, HELP, STATS
/// tls: {cert: agent.pem, key: agent.key, client_ca: ca.pem, client_verification: require}  # for tls:// listeners
/// access: {allow: [10.0.0.0/8], deny: [10.0.66.0/24]}   # client networks, checked at accept; deny wins
/// allow_plaintext_exec: false       # exec on a plaintext listener that is not loopback (default: refused)
/// exec_allow: ["CN=ops"]            # client certificate identities that may run exec commands
/// commands:
///   - {name: HELLO, reply: "hi"}
///   - {prefix: SET TEMP, reply: "OK temp={1}"}
///   - {pattern: '^GET (\w+)$', reply: "{1}=42"}
///   - {name: VER, builtin: VERSION}
///   - name: DISK
///     exec: {argv: [/bin/df, -h, "{1}"], timeout: 2s, max_output: 4KiB, cwd: /, env: {LANG: C}}
///     allow: ["CN=ops", "DNS:ops.example.com"]   # who may run it (client certificate identity)
/// ```
///
/// Relative file paths in `tls:` are taken from the configuration file's folder.
///
/// Every problem is collected with its line number; nothing is reported one at a time.
public struct AgentConfigFile: Sendable {
    public var configuration = DeviceAgent.Configuration()
    public var router = CommandRouter()
    public var logLevel: Logger.Level?
    /// `host:port` for the Prometheus endpoint, if configured.
    public var metrics: String?
    /// Whether the file named listen addresses (flags replace them either way).
    public var hasListen = false

    public init() {}

    /// One problem in a file.
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }

        public init(line: Int, message: String) {
            self.line = line
            self.message = message
        }
    }

    /// Every problem found in a file.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        public var path: String
        public var problems: [Problem]
        public var description: String { problems.map { "\(path):\($0.line): \($0.message)" }.joined(separator: "\n") }

        public init(path: String, problems: [Problem]) {
            self.path = path
            self.problems = problems
        }
    }

    /// Parses a listen address: `host:port`, `[v6]:port`, or `tls://host:port`.
    public static func listenAddress(_ text: String) -> DeviceAgent.ListenAddress? { ConfigReader.parseListen(text) }

    /// Reads and checks the file at `path`.
    /// - Throws: ``LoadError`` listing every problem with its line.
    public static func load(path: String) throws(LoadError) -> AgentConfigFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(path: path, problems: [Problem(line: 0, message: "cannot read the file")])
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    /// Parses YAML text; `path` names it in errors.
    public static func parse(_ yaml: String, path: String = "<config>") throws(LoadError) -> AgentConfigFile {
        try parse(yaml, path: path, extraSections: [:])
    }

    /// Reads a section of a file that embeds an agent configuration (the simulator's profile adds `faults:`):
    /// gets the section's node and appends any problems it finds.
    public typealias SectionReader = (ConfigNode, inout [Problem]) -> Void

    /// Parses YAML text that may hold more top-level sections than an agent configuration; each is handed to
    /// its reader, and the problems of all are reported together, by line. Settings the file leaves out keep
    /// their value in `base` (the simulator starts from its own limits).
    public static func parse(
        _ yaml: String, path: String = "<config>", base: DeviceAgent.Configuration = DeviceAgent.Configuration(),
        extraSections: [String: SectionReader]
    ) throws(LoadError) -> AgentConfigFile {
        var reader = ConfigReader()
        reader.directory = (path as NSString).deletingLastPathComponent
        reader.extraSections = extraSections
        reader.base = base
        let file = reader.read(yaml)
        guard reader.problems.isEmpty else {
            // Stable sort: problems on one line keep the order they were found in.
            let ordered = reader.problems.enumerated().sorted {
                ($0.element.line, $0.offset) < ($1.element.line, $1.offset)
            }.map(\.element)
            throw LoadError(path: path, problems: ordered)
        }
        return file
    }
}
