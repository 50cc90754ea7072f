import Foundation

extension Inventory {
    /// The formats an inventory can be written in.
    public enum Format: String, Sendable {
        /// Ansible INI (a plain `host[:port]` list is valid INI: hosts in no section).
        case ini
        /// Ansible YAML (`all:` with `hosts:`, `vars:`, `children:`).
        case yaml
    }

    /// Reads the inventory at `path` (`-` reads standard input).
    public static func load(path: String) throws(InventoryError) -> Inventory {
        let data: Data?
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = FileManager.default.contents(atPath: path)
        }
        guard let data else { throw InventoryError(path: path, line: 0, message: "cannot read the file") }
        let name = path == "-" ? "<stdin>" : path
        return try parse(
            String(decoding: data, as: UTF8.self), path: name,
            format: format(of: path, text: String(decoding: data.prefix(4096), as: UTF8.self)))
    }

    /// Parses inventory text; `format` defaults to a guess from the text.
    public static func parse(
        _ text: String, path: String = "<inventory>", format: Format? = nil
    ) throws(InventoryError) -> Inventory {
        switch format ?? Self.format(of: path, text: text) {
        case .ini: return try INIInventoryReader(path: path).read(text)
        case .yaml: return try YAMLInventoryReader(path: path).read(text)
        }
    }

    /// YAML when the name ends `.yaml`/`.yml` or the text starts like YAML (`---` or `name:` alone on its first
    /// line); INI otherwise.
    static func format(of path: String, text: String) -> Format {
        let lower = path.lowercased()
        if lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") { return .yaml }
        if lower.hasSuffix(".ini") || lower.hasSuffix(".txt") { return .ini }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(50) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("---") { return .yaml }
            if line.hasSuffix(":"), !line.hasPrefix("["), !line.contains(" ") { return .yaml }
            return .ini
        }
        return .ini
    }

    /// Splits `host:port` (or `[v6]:port`) into name and port; names without a port come back whole.
    static func splitPort(_ token: String) -> (name: String, port: String?) {
        if token.hasPrefix("["), let close = token.firstIndex(of: "]") {
            let rest = token[token.index(after: close)...]
            if rest.hasPrefix(":"), Int(rest.dropFirst()) != nil {
                return (String(token[token.index(after: token.startIndex)..<close]), String(rest.dropFirst()))
            }
            return (token, nil)  // a host range such as dev[01:10]
        }
        let colons = token.filter { $0 == ":" }.count
        if colons == 1, let colon = token.lastIndex(of: ":"), !token.contains("["),
            Int(token[token.index(after: colon)...]) != nil
        {
            return (String(token[..<colon]), String(token[token.index(after: colon)...]))
        }
        if colons == 1, let colon = token.lastIndex(of: ":"), let close = token.lastIndex(of: "]"), colon > close,
            Int(token[token.index(after: colon)...]) != nil
        {
            return (String(token[..<colon]), String(token[token.index(after: colon)...]))  // dev[01:10]:9100
        }
        return (token, nil)
    }
}

/// Ansible's INI format: `[group]`, `[group:vars]`, `[group:children]`, host lines `name key=value …`.
struct INIInventoryReader {
    let path: String

    func read(_ text: String) throws(InventoryError) -> Inventory {
        var groups: [String: Inventory.Group] = [:]
        var order: [String] = []
        var seen = Set<String>()
        var hostVariables: [String: [String: String]] = [:]
        enum Section { case hosts(String?), vars(String), children(String) }
        var section = Section.hosts(nil)
        func fail(_ line: Int, _ message: String) -> InventoryError {
            InventoryError(path: path, line: line, message: message)
        }
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") && !line.dropFirst().contains("[") {
                let inner = line.dropFirst().dropLast()
                let parts = inner.split(separator: ":", maxSplits: 1).map(String.init)
                guard let name = parts.first, !name.isEmpty, !name.contains(" ") else {
                    throw fail(number, "bad section header '\(line)'")
                }
                if groups[name] == nil { groups[name] = Inventory.Group(name: name) }
                switch parts.count == 2 ? parts[1] : nil {
                case nil: section = .hosts(name)
                case "vars": section = .vars(name)
                case "children": section = .children(name)
                case let other?: throw fail(number, "unknown section type ':\(other)' (expected :vars or :children)")
                }
                continue
            }
            let tokens: [String]
            switch Self.tokens(line) {
            case .success(let value): tokens = value
            case .failure(let problem): throw fail(number, problem.text)
            }
            switch section {
            case .vars(let group):
                guard let equals = line.firstIndex(of: "=") else {
                    throw fail(number, "expected key=value in [\(group):vars]")
                }
                let key = line[..<equals].trimmingCharacters(in: .whitespaces)
                let value = Self.unquote(line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces))
                guard !key.isEmpty else { throw fail(number, "empty variable name") }
                groups[group]!.variables[key] = value  // created with the section
            case .children(let group):
                guard tokens.count == 1 else {
                    throw fail(number, "expected one group name per line in [\(group):children]")
                }
                if groups[tokens[0]] == nil { groups[tokens[0]] = Inventory.Group(name: tokens[0]) }
                if !groups[group]!.children.contains(tokens[0]) { groups[group]!.children.append(tokens[0]) }
            case .hosts(let group):
                let (pattern, port) = Inventory.splitPort(tokens[0])
                var variables: [String: String] = [:]
                if let port { variables["fleetcmd_port"] = port }
                for token in tokens.dropFirst() {
                    guard let equals = token.firstIndex(of: "="), equals != token.startIndex else {
                        throw fail(number, "expected key=value after the host name, not '\(token)'")
                    }
                    variables[String(token[..<equals])] = Self.unquote(String(token[token.index(after: equals)...]))
                }
                let names: [String]
                switch HostRange.expand(pattern) {
                case .success(let value): names = value
                case .failure(let problem): throw fail(number, problem.text)
                }
                for name in names {
                    if seen.insert(name).inserted { order.append(name) }
                    hostVariables[name, default: [:]].merge(variables) { _, new in new }
                    if let group, !groups[group]!.hosts.contains(name) { groups[group]!.hosts.append(name) }
                }
            }
        }
        return Inventory(groups: groups, hostOrder: order, hostVariables: hostVariables)
    }

    /// Whitespace-separated tokens; single or double quotes keep spaces inside a value.
    static func tokens(_ line: String) -> Result<[String], ProblemText> {
        var tokens: [String] = []
        var current = ""
        var quote: Character?
        for character in line {
            if let open = quote {
                current.append(character)
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
                current.append(character)
            } else if character == " " || character == "\t" {
                if !current.isEmpty { tokens.append(current) }
                current = ""
            } else if character == "#", current.isEmpty {
                break  // a comment after the host entry
            } else {
                current.append(character)
            }
        }
        if quote != nil { return .failure(ProblemText("unclosed quote")) }
        if !current.isEmpty { tokens.append(current) }
        return .success(tokens)
    }

    static func unquote(_ value: String) -> String {
        if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
            return String(value.dropFirst().dropLast())
        }
        if let equalsQuote = value.firstIndex(where: { $0 == "\"" || $0 == "'" }), value.last == value[equalsQuote] {
            return String(value[..<equalsQuote])
                + value[value.index(after: equalsQuote)..<value.index(before: value.endIndex)]
        }
        return value
    }
}
