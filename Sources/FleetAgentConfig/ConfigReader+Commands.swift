import FleetAgent

// The `commands:` section: each command's matcher, action, `allow:` rules and an `exec` action's settings.

extension ConfigReader {
    /// What one command gathers before it is checked as a whole.
    struct CommandParts {
        var matchers: [(kind: String, node: ConfigNode)] = []
        var actions: [(kind: String, node: ConfigNode)] = []
        var allow: [String]?
    }

    static let commandKeys = ConfigKeys<CommandParts>(
        unknown: { "unknown key '\($0)' in a command" },
        [
            ("name", { _, v, parts in parts.matchers.append(("name", v)) }),
            ("prefix", { _, v, parts in parts.matchers.append(("prefix", v)) }),
            ("pattern", { _, v, parts in parts.matchers.append(("pattern", v)) }),
            ("reply", { _, v, parts in parts.actions.append(("reply", v)) }),
            ("builtin", { _, v, parts in parts.actions.append(("builtin", v)) }),
            ("exec", { _, v, parts in parts.actions.append(("exec", v)) }),
            ("allow", { r, v, parts in parts.allow = r.identityRules(v, "allow") }),
            ("description", { _, _, _ in }),
        ])

    mutating func readCommands(_ node: ConfigNode, into router: inout CommandRouter) {
        guard let items = node.items else {
            problem(node, "commands must be a list")
            return
        }
        for item in items {
            guard let entries = item.entries else {
                problem(
                    item,
                    "each command is a mapping with a matcher (name, prefix or pattern) and an action (reply, builtin or exec)"
                )
                continue
            }
            var parts = CommandParts()
            Self.commandKeys.read(entries, into: &parts, with: &self)
            if let route = route(parts, item) { router.add(route) }
        }
    }

    private mutating func route(_ parts: CommandParts, _ item: ConfigNode) -> CommandRouter.Route? {
        guard parts.matchers.count == 1 else {
            problem(
                item,
                parts.matchers.isEmpty
                    ? "command has no name, prefix or pattern" : "command has more than one of name, prefix, pattern")
            return nil
        }
        guard parts.actions.count == 1 else {
            problem(
                item,
                parts.actions.isEmpty
                    ? "command has no reply, builtin or exec" : "command has more than one of reply, builtin, exec")
            return nil
        }
        let (matchKind, matchNode) = parts.matchers[0]
        guard let matchText = string(matchNode, matchKind), !matchText.isEmpty else { return nil }
        let matcher: CommandRouter.Matcher
        switch matchKind {
        case "name": matcher = .exact(matchText)
        case "prefix": matcher = .prefix(matchText.split(separator: " "))
        default:
            do {
                matcher = .pattern(matchText, try CommandRouter.PatternBox(compiling: matchText))
            } catch {
                problem(matchNode, "invalid pattern '\(matchText)': \(error)")
                return nil
            }
        }
        let (actionKind, actionNode) = parts.actions[0]
        let action: CommandRouter.Action
        switch actionKind {
        case "reply":
            guard let text = string(actionNode, "reply") else { return nil }
            action = .reply(text)
        case "builtin":
            guard let name = string(actionNode, "builtin") else { return nil }
            guard let builtin = Builtin(rawValue: name.uppercased()) else {
                problem(
                    actionNode,
                    "unknown builtin '\(name)' (expected \(Builtin.allCases.map(\.rawValue).joined(separator: ", ")))")
                return nil
            }
            action = .builtin(builtin)
        default:
            guard let exec = readExec(actionNode) else { return nil }
            action = .exec(exec)
        }
        return CommandRouter.Route(matcher: matcher, action: action, name: matchText, allow: parts.allow)
    }

    /// What `exec:` gathers: the action, and argv once given.
    struct ExecParts {
        var action = ExecAction(argv: [])
        var argv: [String]?
    }

    static let execKeys = ConfigKeys<ExecParts>(
        unknown: { "unknown key '\($0)' in exec" },
        [
            (
                "argv",
                { r, v, exec in
                    guard let items = v.items, !items.isEmpty, items.allSatisfy({ $0.string != nil && $0.isScalar })
                    else {
                        r.problem(v, "exec argv must be a non-empty list of strings (no shell is ever used)")
                        return
                    }
                    let list = items.compactMap(\.string)
                    if !list[0].hasPrefix("/") {
                        r.problem(v, "exec argv[0] must be an absolute path, not '\(list[0])'")
                    }
                    exec.argv = list
                }
            ),
            ("timeout", { r, v, exec in if let time = r.duration(v, "timeout") { exec.action.timeout = time } }),
            (
                "max_output",
                { r, v, exec in if let size = r.size(v, "max_output") { exec.action.maxOutputBytes = size } }
            ),
            ("cwd", { r, v, exec in if let path = r.string(v, "cwd") { exec.action.workingDirectory = path } }),
            (
                "env",
                { r, v, exec in
                    guard let entries = v.entries else {
                        r.problem(v, "exec env must be a mapping of names to values")
                        return
                    }
                    for (name, setting) in entries {
                        guard let name = name.string, let setting = setting.string else {
                            r.problem(v, "exec env entries must be strings")
                            continue
                        }
                        exec.action.environment[name] = setting
                    }
                }
            ),
        ])

    private mutating func readExec(_ node: ConfigNode) -> ExecAction? {
        guard let entries = node.entries else {
            problem(node, "exec must be a mapping with argv (and optionally timeout, max_output, cwd, env)")
            return nil
        }
        let before = problems.count
        var parts = ExecParts()
        Self.execKeys.read(entries, into: &parts, with: &self)
        guard let argv = parts.argv else {
            if problems.count == before { problem(node, "exec needs argv") }
            return nil
        }
        parts.action.argv = argv
        return problems.count == before ? parts.action : nil
    }
}
