public import FleetAgent
import FleetFraming
import FleetTLS
import Foundation
public import Logging
public import Yams

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
    public static func listenAddress(_ text: String) -> DeviceAgent.ListenAddress? { Reader.parseListen(text) }

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
    public typealias SectionReader = (Node, inout [Problem]) -> Void

    /// Parses YAML text that may hold more top-level sections than an agent configuration; each is handed to
    /// its reader, and the problems of all are reported together, by line. Settings the file leaves out keep
    /// their value in `base` (the simulator starts from its own limits).
    public static func parse(
        _ yaml: String, path: String = "<config>", base: DeviceAgent.Configuration = DeviceAgent.Configuration(),
        extraSections: [String: SectionReader]
    ) throws(LoadError) -> AgentConfigFile {
        var reader = Reader()
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

private struct Reader {
    var problems: [AgentConfigFile.Problem] = []
    var extraSections: [String: AgentConfigFile.SectionReader] = [:]
    var base = DeviceAgent.Configuration()
    var directory = ""

    mutating func problem(_ node: Node?, _ message: String) {
        problems.append(.init(line: node?.mark?.line ?? 0, message: message))
    }

    mutating func read(_ yaml: String) -> AgentConfigFile {
        var file = AgentConfigFile()
        file.configuration = base
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            problems.append(.init(line: Self.line(of: error), message: "not valid YAML: \(Self.summary(of: error))"))
            return file
        } catch {
            problems.append(.init(line: 0, message: "not valid YAML: \(error)"))
            return file
        }
        guard let root else { return withBuiltins(file, include: true) }
        guard case .mapping(let top) = root else {
            problem(root, "the file must be a mapping of settings")
            return file
        }
        var includeBuiltins = true
        var preset: (String, Node)?
        var prefix: [UInt8]?
        var suffix: [UInt8]?
        var replyEnd: [UInt8]?
        var commands: Node?
        for (keyNode, value) in top {
            let key = keyNode.string ?? ""
            switch key {
            case "listen":
                file.hasListen = true
                file.configuration.listen = listenAddresses(value)
            case "preset": if let name = string(value, key) { preset = (name, value) }
            case "prefix": prefix = bytes(value, key)
            case "suffix": suffix = bytes(value, key)
            case "reply_end": replyEnd = bytes(value, key)
            case "limits": readLimits(value, into: &file.configuration.limits)
            case "shutdown_grace":
                if let grace = duration(value, key) { file.configuration.shutdownGracePeriod = grace }
            case "unknown_reply":
                if let text = string(value, key) { file.configuration.unknownCommandReply = .text(text) }
            case "log_level":
                if let text = string(value, key) {
                    if let level = Logger.Level(rawValue: text) {
                        file.logLevel = level
                    } else {
                        problem(value, "log_level must be one of trace, debug, info, notice, warning, error, critical")
                    }
                }
            case "metrics": file.metrics = string(value, key)
            case "builtins":
                if let flag = value.bool {
                    includeBuiltins = flag
                } else {
                    problem(value, "builtins must be true or false")
                }
            case "commands": commands = value
            case "tls": file.configuration.tls = readTLS(value)
            case "access": file.configuration.access = readAccess(value)
            case "allow_plaintext_exec":
                if let flag = value.bool {
                    file.configuration.allowPlaintextExec = flag
                } else {
                    problem(value, "allow_plaintext_exec must be true or false")
                }
            case "allow_anonymous_exec":
                if let flag = value.bool {
                    file.configuration.allowAnonymousExec = flag
                } else {
                    problem(value, "allow_anonymous_exec must be true or false")
                }
            case "exec_allow": file.configuration.execAllow = identityRules(value, "exec_allow")
            case let extra where extraSections[extra] != nil:
                extraSections[extra]!(value, &problems)  // checked by the case
            default:
                problem(
                    keyNode,
                    "unknown setting '\(key)' (expected listen, preset, prefix, suffix, reply_end, limits, shutdown_grace, unknown_reply, log_level, metrics, builtins, commands, tls, access, allow_plaintext_exec, allow_anonymous_exec, exec_allow\(extraSections.keys.sorted().map { ", " + $0 }.joined()))"
                )
            }
        }
        if let (name, node) = preset {
            do {
                file.configuration.format = try FrameFormat.preset(named: name)
            } catch {
                problem(node, "\(error)")
            }
        }
        file.configuration.format = file.configuration.format.customized(
            prefix: prefix, suffix: suffix, replyEnd: replyEnd)
        file = withBuiltins(file, include: includeBuiltins)
        if let commands { readCommands(commands, into: &file.router) }
        return file
    }

    private func withBuiltins(_ file: AgentConfigFile, include: Bool) -> AgentConfigFile {
        guard include else { return file }
        var copy = file
        copy.router = .builtins
        return copy
    }

    // MARK: - Sections

    private mutating func listenAddresses(_ node: Node) -> [DeviceAgent.ListenAddress] {
        let items: [Node]
        switch node {
        case .sequence(let sequence): items = Array(sequence)
        case .scalar: items = [node]
        default:
            problem(node, "listen must be a list of host:port (or tls://host:port) strings")
            return []
        }
        var result: [DeviceAgent.ListenAddress] = []
        for item in items {
            guard let text = item.string, let address = Self.parseListen(text) else {
                problem(item, "listen entries look like 0.0.0.0:9100, [::]:9100 or tls://0.0.0.0:9443")
                continue
            }
            result.append(address)
        }
        return result
    }

    static func parseListen(_ text: String) -> DeviceAgent.ListenAddress? {
        if text.lowercased().hasPrefix("tls://") {
            guard var address = parseListen(String(text.dropFirst(6))) else { return nil }
            address.tls = true
            return address
        }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (0...65535).contains(port) else { return nil }
            return .init(host: host, port: port)
        }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon])
        return host.isEmpty ? nil : .init(host: host, port: port)
    }

    private mutating func readLimits(_ node: Node, into limits: inout DeviceAgent.Limits) {
        guard case .mapping(let mapping) = node else {
            problem(node, "limits must be a mapping")
            return
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "max_frame": if let size = size(value, key) { limits.maxFrameBytes = size }
            case "idle_timeout": if let time = duration(value, key) { limits.idleTimeout = time }
            case "frame_timeout": if let time = duration(value, key) { limits.frameTimeout = time }
            case "max_connections": if let count = count(value, key) { limits.maxConnections = count }
            case "max_connections_per_source":
                if let count = count(value, key) { limits.maxConnectionsPerSource = count }
            case "max_concurrent_execs": if let count = count(value, key) { limits.maxConcurrentExecs = count }
            case "max_echo": if let size = size(value, key) { limits.maxEchoBytes = size }
            default:
                problem(
                    keyNode,
                    "unknown limit '\(key)' (expected max_frame, idle_timeout, frame_timeout, max_connections, max_connections_per_source, max_concurrent_execs, max_echo)"
                )
            }
        }
    }

    private mutating func readCommands(_ node: Node, into router: inout CommandRouter) {
        guard case .sequence(let sequence) = node else {
            problem(node, "commands must be a list")
            return
        }
        for item in sequence {
            guard case .mapping(let mapping) = item else {
                problem(
                    item,
                    "each command is a mapping with a matcher (name, prefix or pattern) and an action (reply, builtin or exec)"
                )
                continue
            }
            var matchers: [(String, Node)] = []
            var actions: [(String, Node)] = []
            var allow: [String]?
            for (keyNode, value) in mapping {
                let key = keyNode.string ?? ""
                switch key {
                case "name", "prefix", "pattern": matchers.append((key, value))
                case "reply", "builtin", "exec": actions.append((key, value))
                case "description": break
                case "allow": allow = identityRules(value, "allow")
                default:
                    problem(
                        keyNode,
                        "unknown key '\(key)' in a command (expected name, prefix, pattern, reply, builtin, exec, allow, description)"
                    )
                }
            }
            guard matchers.count == 1 else {
                problem(
                    item,
                    matchers.isEmpty
                        ? "command has no name, prefix or pattern"
                        : "command has more than one of name, prefix, pattern")
                continue
            }
            guard actions.count == 1 else {
                problem(
                    item,
                    actions.isEmpty
                        ? "command has no reply, builtin or exec" : "command has more than one of reply, builtin, exec")
                continue
            }
            let (matchKind, matchNode) = matchers[0]
            guard let matchText = string(matchNode, matchKind), !matchText.isEmpty else { continue }
            let matcher: CommandRouter.Matcher
            switch matchKind {
            case "name": matcher = .exact(matchText)
            case "prefix": matcher = .prefix(matchText.split(separator: " "))
            default:
                do {
                    matcher = .pattern(matchText, try CommandRouter.PatternBox(compiling: matchText))
                } catch {
                    problem(matchNode, "invalid pattern '\(matchText)': \(error)")
                    continue
                }
            }
            let (actionKind, actionNode) = actions[0]
            let action: CommandRouter.Action
            switch actionKind {
            case "reply":
                guard let text = string(actionNode, "reply") else { continue }
                action = .reply(text)
            case "builtin":
                guard let name = string(actionNode, "builtin") else { continue }
                guard let builtin = Builtin(rawValue: name.uppercased()) else {
                    problem(
                        actionNode,
                        "unknown builtin '\(name)' (expected \(Builtin.allCases.map(\.rawValue).joined(separator: ", ")))"
                    )
                    continue
                }
                action = .builtin(builtin)
            default:
                guard let exec = readExec(actionNode) else { continue }
                action = .exec(exec)
            }
            router.add(CommandRouter.Route(matcher: matcher, action: action, name: matchText, allow: allow))
        }
    }

    private mutating func readTLS(_ node: Node) -> ServerTLSSettings? {
        guard case .mapping(let mapping) = node else {
            problem(node, "tls must be a mapping with cert and key (and optionally client_ca, client_verification)")
            return nil
        }
        var cert: String?
        var key: String?
        var clientCA: String?
        var verification: ServerTLSSettings.ClientVerification?
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            switch name {
            case "cert": cert = string(value, name).map(resolve)
            case "key": key = string(value, name).map(resolve)
            case "client_ca": clientCA = string(value, name).map(resolve)
            case "client_verification":
                guard let text = string(value, name) else { continue }
                guard let mode = ServerTLSSettings.ClientVerification(rawValue: text) else {
                    problem(value, "client_verification must be none, optional or require")
                    continue
                }
                verification = mode
            default:
                problem(keyNode, "unknown key '\(name)' in tls (expected cert, key, client_ca, client_verification)")
            }
        }
        guard let cert, let key else {
            problem(node, "tls needs both cert and key")
            return nil
        }
        if verification != nil, verification != ServerTLSSettings.ClientVerification.none, clientCA == nil {
            problem(node, "client_verification \(verification!.rawValue) needs client_ca")
        }
        return ServerTLSSettings(
            certificateFile: cert, keyFile: key, clientCAFile: clientCA, clientVerification: verification)
    }

    private func resolve(_ path: String) -> String {
        path.hasPrefix("/") || directory.isEmpty ? path : directory + "/" + path
    }

    private mutating func readAccess(_ node: Node) -> AccessList {
        guard case .mapping(let mapping) = node else {
            problem(node, "access must be a mapping with allow and/or deny lists of networks")
            return AccessList()
        }
        var list = AccessList()
        for (keyNode, value) in mapping {
            let name = keyNode.string ?? ""
            guard name == "allow" || name == "deny" else {
                problem(keyNode, "unknown key '\(name)' in access (expected allow, deny)")
                continue
            }
            let items: [Node]
            switch value {
            case .sequence(let sequence): items = Array(sequence)
            case .scalar: items = [value]
            default:
                problem(value, "\(name) must be a list of networks like 10.0.0.0/8")
                continue
            }
            for item in items {
                do {
                    let network = try AccessList.Network(parsing: item.string ?? "")
                    if name == "allow" { list.allow.append(network) } else { list.deny.append(network) }
                } catch {
                    problem(item, "\(error)")
                }
            }
        }
        return list
    }

    private mutating func identityRules(_ node: Node, _ key: String) -> [String]? {
        let items: [Node]
        switch node {
        case .sequence(let sequence): items = Array(sequence)
        case .scalar: items = [node]
        default:
            problem(node, "\(key) must be a list of identities like CN=ops or DNS:ops.example.com")
            return nil
        }
        var rules: [String] = []
        for item in items {
            let rule = item.string ?? ""
            do {
                try ClientIdentity.validate(rule: rule)
                rules.append(rule)
            } catch {
                problem(item, "\(error)")
            }
        }
        return rules
    }

    private mutating func readExec(_ node: Node) -> ExecAction? {
        guard case .mapping(let mapping) = node else {
            problem(node, "exec must be a mapping with argv (and optionally timeout, max_output, cwd, env)")
            return nil
        }
        var argv: [String]?
        var action = ExecAction(argv: [])
        let before = problems.count
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "argv":
                guard case .sequence(let items) = value, !items.isEmpty, items.allSatisfy({ $0.string != nil }) else {
                    problem(value, "exec argv must be a non-empty list of strings (no shell is ever used)")
                    continue
                }
                let list = items.compactMap(\.string)
                if !list[0].hasPrefix("/") { problem(value, "exec argv[0] must be an absolute path, not '\(list[0])'") }
                argv = list
            case "timeout": if let time = duration(value, key) { action.timeout = time }
            case "max_output": if let size = size(value, key) { action.maxOutputBytes = size }
            case "cwd": if let path = string(value, key) { action.workingDirectory = path }
            case "env":
                guard case .mapping(let env) = value else {
                    problem(value, "exec env must be a mapping of names to values")
                    continue
                }
                for (name, setting) in env {
                    guard let name = name.string, let setting = setting.string else {
                        problem(value, "exec env entries must be strings")
                        continue
                    }
                    action.environment[name] = setting
                }
            default:
                problem(keyNode, "unknown key '\(key)' in exec (expected argv, timeout, max_output, cwd, env)")
            }
        }
        guard let argv else {
            if problems.count == before { problem(node, "exec needs argv") }
            return nil
        }
        action.argv = argv
        return problems.count == before ? action : nil
    }

    // MARK: - Scalars

    private mutating func string(_ node: Node, _ key: String) -> String? {
        guard case .scalar(let scalar) = node else {
            problem(node, "\(key) must be a single value")
            return nil
        }
        return scalar.string
    }

    private mutating func bytes(_ node: Node, _ key: String) -> [UInt8]? {
        guard let text = string(node, key) else { return nil }
        do {
            return try ByteEscapes.parse(text)
        } catch {
            problem(node, "\(key): \(error)")
            return nil
        }
    }

    private mutating func duration(_ node: Node, _ key: String) -> Duration? {
        guard let text = string(node, key) else { return nil }
        do {
            return try DurationText.parse(text)
        } catch {
            problem(node, "\(key): \(error)")
            return nil
        }
    }

    private mutating func size(_ node: Node, _ key: String) -> Int? {
        guard let text = string(node, key) else { return nil }
        do {
            let value = try ByteCount.parse(text)
            guard value > 0 else {
                problem(node, "\(key) must be positive")
                return nil
            }
            return value
        } catch {
            problem(node, "\(key): \(error)")
            return nil
        }
    }

    private mutating func count(_ node: Node, _ key: String) -> Int? {
        guard let value = node.scalar.flatMap({ YAMLInteger.parse($0.string) }), value > 0 else {
            problem(node, "\(key) must be a positive whole number")
            return nil
        }
        return value
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 0
        }
    }

    private static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        default: return "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
        }
    }
}
