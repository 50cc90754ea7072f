/// Maps command text to what answers it: exact names, prefix words with arguments, and regular expressions.
///
/// ```swift
/// var router = CommandRouter.builtins            // PING, ECHO, STATUS, VERSION, UPTIME, HELP, STATS
/// router.on("HELLO", reply: "hi")                 // exact name
/// router.on(prefix: "SET TEMP", reply: "OK temp={1}")   // "SET TEMP 21" -> "OK temp=21"
/// try router.on(pattern: #"^GET (\w+)$"#, reply: "{1}=42")
/// router.on("TIME") { _ in .text("\(Date())") }  // any async handler
/// ```
///
/// Exact names are looked up first; prefix and pattern routes are then tried in the order they were added.
/// Matching is case-sensitive.
public struct CommandRouter: Sendable {
    /// What a matched route does.
    public enum Action: Sendable {
        /// Reply with this template; `{1}`, `{2}`… are the route's captures, `{0}` the whole command.
        case reply(String)
        /// One of the agent's builtins.
        case builtin(Builtin)
        /// Run a program (never through a shell) and reply with its output.
        case exec(ExecAction)
        /// Call a Swift handler.
        case handler(AgentHandler)
        /// Call a Swift handler that answers at once, without suspending: it runs on the connection's event loop
        /// and needs no task, so it must not block.
        case immediate(AgentImmediateHandler)
    }

    /// How a route matches.
    public enum Matcher: Sendable, CustomStringConvertible {
        case exact(String)
        case prefix([Substring])
        case pattern(String, PatternBox)

        public var description: String {
            switch self {
            case .exact(let name): return name
            case .prefix(let words): return words.joined(separator: " ") + " …"
            case .pattern(let source, _): return "/\(source)/"
            }
        }
    }

    /// A compiled regular expression.
    public struct PatternBox: @unchecked Sendable {
        // Regex<AnyRegexOutput> is immutable after compilation and only read; it is not marked Sendable.
        let regex: Regex<AnyRegexOutput>

        /// Compiles `pattern`.
        /// - Throws: when it is not a valid regular expression.
        public init(compiling pattern: String) throws { regex = try Regex(pattern) }

        init(regex: Regex<AnyRegexOutput>) { self.regex = regex }
    }

    public struct Route: Sendable {
        public var matcher: Matcher
        public var action: Action
        /// A name for logs, metrics and HELP.
        public var name: String
        /// Who may run it: client certificate identity rules (`CN=…`, `DNS:…`, `IP:…`, `EMAIL:…`, `URI:…`, `*`),
        /// any one of which must match. `nil`: anyone who can connect (for `exec` routes, the configuration's
        /// ``DeviceAgent/Configuration/execAllow``).
        public var allow: [String]?

        public init(matcher: Matcher, action: Action, name: String, allow: [String]? = nil) {
            self.matcher = matcher
            self.action = action
            self.name = name
            self.allow = allow
        }
    }

    private var exact: [String: Int] = [:]
    private var ordered: [Int] = []
    /// The exact names again, by length, while every one is ASCII and shorter than ``shortName``: a command of that
    /// kind is found by comparing bytes with the few names of its length, not by hashing its text (2% of the agent's
    /// CPU). Two ASCII strings are equal exactly when their bytes are; any other text goes to ``exact``, which
    /// compares by Unicode canonical equivalence (`"\u{212A}"`, the Kelvin sign, equals `"K"`). `nil` once a name
    /// is not ASCII: an ASCII command could then equal it.
    private var shortASCIINames: [[(name: String, index: Int)]]? = Array(repeating: [], count: shortName)
    private static let shortName = 32
    public private(set) var routes: [Route] = []

    public init() {}

    /// Whether any route runs a program.
    public var hasExecRoutes: Bool {
        routes.contains { route in
            if case .exec = route.action { return true }
            return false
        }
    }

    /// A router with every builtin under its own name.
    public static var builtins: CommandRouter {
        var router = CommandRouter()
        for builtin in Builtin.allCases { router.add(builtin) }
        return router
    }

    /// Adds a builtin under its usual name (`ECHO` as a prefix route, the others exact).
    public mutating func add(_ builtin: Builtin) {
        if builtin == .echo {
            add(Route(matcher: .prefix(["ECHO"]), action: .builtin(.echo), name: "ECHO"))
        } else {
            add(Route(matcher: .exact(builtin.rawValue), action: .builtin(builtin), name: builtin.rawValue))
        }
    }

    public mutating func on(_ name: String, reply template: String) {
        add(Route(matcher: .exact(name), action: .reply(template), name: name))
    }

    public mutating func on(_ name: String, handler: @escaping AgentHandler) {
        add(Route(matcher: .exact(name), action: .handler(handler), name: name))
    }

    public mutating func on(prefix words: String, reply template: String) {
        add(Route(matcher: .prefix(words.split(separator: " ")), action: .reply(template), name: words))
    }

    public mutating func on(prefix words: String, handler: @escaping AgentHandler) {
        add(Route(matcher: .prefix(words.split(separator: " ")), action: .handler(handler), name: words))
    }

    /// A handler that answers without suspending (see ``Action/immediate(_:)``).
    public mutating func on(_ name: String, immediate handler: @escaping AgentImmediateHandler) {
        add(Route(matcher: .exact(name), action: .immediate(handler), name: name))
    }

    /// A prefix route whose handler answers without suspending (see ``Action/immediate(_:)``).
    public mutating func on(prefix words: String, immediate handler: @escaping AgentImmediateHandler) {
        add(Route(matcher: .prefix(words.split(separator: " ")), action: .immediate(handler), name: words))
    }

    /// - Throws: when `pattern` is not a valid regular expression.
    public mutating func on(pattern: String, reply template: String) throws {
        add(
            Route(
                matcher: .pattern(pattern, PatternBox(regex: try Regex(pattern))), action: .reply(template),
                name: pattern))
    }

    /// - Throws: when `pattern` is not a valid regular expression.
    public mutating func on(pattern: String, handler: @escaping AgentHandler) throws {
        add(
            Route(
                matcher: .pattern(pattern, PatternBox(regex: try Regex(pattern))), action: .handler(handler),
                name: pattern))
    }

    /// Adds a route. A later exact route with the same name replaces an earlier one.
    public mutating func add(_ route: Route) {
        routes.append(route)
        if case .exact(let name) = route.matcher {
            exact[name] = routes.count - 1
            if !name.utf8.allSatisfy({ $0 < 0x80 }) {
                shortASCIINames = nil
            } else if name.utf8.count < Self.shortName {
                shortASCIINames?[name.utf8.count].removeAll { $0.name == name }
                shortASCIINames?[name.utf8.count].append((name, routes.count - 1))
            }
        } else {
            ordered.append(routes.count - 1)
        }
    }

    /// The route for `text` and its captures, or `nil` when nothing matches.
    public func match(_ text: String) -> (route: Route, arguments: [String])? {
        matchIndex(text).map { (routes[$0.index], $0.arguments) }
    }

    /// The index in ``routes`` of the route for `text`, and its captures: what the agent uses for every command,
    /// without copying the route.
    func matchIndex(_ text: String) -> (index: Int, arguments: [String])? {
        if let index = exactIndex(text) { return (index, []) }
        guard !ordered.isEmpty else { return nil }
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        for index in ordered {
            switch routes[index].matcher {
            case .prefix(let prefix):
                guard words.count >= prefix.count, zip(words, prefix).allSatisfy({ $0 == $1 }) else { continue }
                return (index, words.dropFirst(prefix.count).map(String.init))
            case .pattern(_, let box):
                guard let match = try? box.regex.wholeMatch(in: text) else { continue }
                let captures = match.output.dropFirst().map { $0.substring.map(String.init) ?? "" }
                return (index, captures)
            case .exact:
                continue
            }
        }
        return nil
    }

    /// The exact route named `text`, if any.
    private func exactIndex(_ text: String) -> Int? {
        let count = text.utf8.count
        if let shortASCIINames, count < Self.shortName, text.utf8.allSatisfy({ $0 < 0x80 }) {
            for entry in shortASCIINames[count] where entry.name == text { return entry.index }
            return nil
        }
        return exact[text]
    }

    public var names: [String] { routes.map(\.matcher.description) }
}

/// The agent's built-in commands.
public enum Builtin: String, Sendable, CaseIterable {
    /// `PING` → `PONG`.
    case ping = "PING"
    /// `ECHO <text>` → `<text>` (at most `maxEchoBytes`).
    case echo = "ECHO"
    /// `STATUS` → `OK …` with uptime and connection counts.
    case status = "STATUS"
    /// `VERSION` → the agent's version.
    case version = "VERSION"
    /// `UPTIME` → seconds since start.
    case uptime = "UPTIME"
    /// `HELP` → the commands this agent answers.
    case help = "HELP"
    /// `STATS` → the agent's counters.
    case stats = "STATS"
}

extension String {
    /// Replaces `{name}` placeholders with `values[name]`; unknown placeholders are left as they are.
    func substituting(_ values: [String: String]) -> String {
        guard contains("{") else { return self }
        var out = ""
        var rest = self[...]
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                out += rest[open...]
                return out
            }
            let key = String(rest[rest.index(after: open)..<close])
            if let value = values[key] {
                out += value
            } else {
                out += rest[open...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
