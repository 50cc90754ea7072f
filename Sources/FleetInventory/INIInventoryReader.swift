import FleetFraming

/// Ansible's `ini` inventory plugin: `[group]`, `[group:vars]`, `[group:children]`, host lines
/// `name[:port] key=value …` (split as a POSIX shell would, values read as Python literals), with its rules for
/// groups named before they are defined.
///
/// One deliberate difference: a file with no section header and nothing but `host[:port]` lines is a plain list,
/// where every line is its own device. Ansible would merge `10.0.0.5:9100` and `10.0.0.5:9101` into one host; here a
/// host that repeats with different ports becomes one device per line, named `host:port`.
struct INIInventoryReader {
    let path: String

    private struct Pending {
        var line: Int
        var isVars: Bool
        var parents: [String] = []
    }

    func read(_ text: String, into data: inout InventoryData) throws(InventoryError) {
        let lines = Self.lines(text)
        if let plain = Self.plainList(lines) {
            try readPlainList(plain, into: &data)
            return
        }
        var pending: [String: Pending] = [:]
        var pendingOrder: [String] = []
        var group = "ungrouped"
        var state = "hosts"
        var number = 0
        func fail(_ message: String, line: Int? = nil) -> InventoryError {
            InventoryError(path: path, line: line ?? number, message: message)
        }
        func addPendingChildren(_ name: String) throws(InventoryError) {
            guard let declaration = pending.removeValue(forKey: name) else { return }
            for parent in declaration.parents {
                do { try data.addChild(parent, name) } catch { throw fail(error.text) }
                if let parentDeclaration = pending[parent], !parentDeclaration.isVars {
                    try addPendingChildren(parent)
                }
            }
        }
        for raw in lines {
            number += 1
            let line = raw.stripping(" \t\r\n\u{0B}\u{0C}")
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if let (name, tag) = Self.section(line) {
                let kind = tag ?? "hosts"
                guard ["hosts", "children", "vars"].contains(kind) else {
                    throw fail("Section [\(name):\(kind)] has unknown type: \(kind)")
                }
                group = name
                state = kind
                if data.groupIndex[name] == nil {
                    if kind == "vars", pending[name] == nil {
                        pending[name] = Pending(line: number, isVars: true)
                        pendingOrder.append(name)
                    }
                    data.addGroup(name)
                }
                if let declaration = pending[name], kind != "vars" {
                    if declaration.isVars {
                        pending[name] = nil
                    } else {
                        try addPendingChildren(name)
                    }
                }
                continue
            }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                throw fail(
                    "Invalid section entry: '\(line)'. Please make sure that there are no spaces in the section "
                        + "entry, and that there are no other invalid characters")
            }
            switch state {
            case "hosts":
                let words: [String]
                switch ShellWords.split(line) {
                case .success(let value): words = value
                case .failure(let problem): throw fail("Error parsing host definition '\(line)': \(problem.text)")
                }
                guard let first = words.first else { continue }
                let expanded: (names: [String], port: Int?)
                switch HostAddress.expand(first) {
                case .success(let value): expanded = value
                case .failure(let problem): throw fail(problem.text)
                }
                if first.utf8.contains(UInt8(ascii: ":")), first.stripping(" \t").hasSuffix(":"), expanded.port == nil {
                    throw fail(
                        "Invalid host pattern '\(first)' supplied, ending in ':' is not allowed, this character is "
                            + "reserved to provide a port.")
                }
                if expanded.names.contains(where: {
                    $0.utf8.contains(UInt8(ascii: "-")) && $0.stripping(" \t") == "---"
                }) {
                    throw fail(
                        "Invalid host pattern '\(first)' supplied, '---' is normally a sign this is a YAML file.")
                }
                if expanded.names.isEmpty {
                    data.warnings.append("\(path):\(number): the host range '\(first)' stands for no host")
                }
                var variables: [(String, InventoryValue)] = []
                for word in words.dropFirst() {
                    guard let equals = word.firstIndex(of: "=") else {
                        throw fail("Expected key=value host variable assignment, got: \(word)")
                    }
                    variables.append(
                        (String(word[..<equals]), PythonLiteral.value(of: String(word[word.index(after: equals)...]))))
                }
                for name in expanded.names {
                    do {
                        try data.addHost(name, group: group, port: expanded.port)
                        for (key, value) in variables { try data.setVariable(name, key, value) }
                    } catch {
                        throw fail(error.text)
                    }
                }
            case "vars":
                guard let equals = line.firstIndex(of: "=") else { throw fail("Expected key=value, got: \(line)") }
                let key = line[..<equals].stripping(" \t")
                let value = line[line.index(after: equals)...].stripping(" \t")
                do throws(InventoryData.Failure) {
                    try data.setVariable(group, key, PythonLiteral.value(of: value))
                } catch {
                    throw fail(error.text)
                }
            default:  // children
                guard let child = Self.groupName(line) else { throw fail("Expected group name, got: \(line)") }
                if data.groupIndex[child] == nil {
                    if pending[child] == nil {
                        pending[child] = Pending(line: number, isVars: false, parents: [group])
                        pendingOrder.append(child)
                    } else {
                        pending[child]!.parents.append(group)  // checked just above
                    }
                } else {
                    do throws(InventoryData.Failure) {
                        try data.addChild(group, child)
                    } catch {
                        throw fail(error.text)
                    }
                }
            }
        }
        for name in pendingOrder {
            guard let declaration = pending[name] else { continue }
            if declaration.isVars {
                throw fail("Section [\(name):vars] not valid for undefined group '\(name)'.", line: declaration.line)
            }
            throw fail(
                "Section [\(declaration.parents.last ?? name):children] includes undefined group '\(name)'.",
                line: declaration.line)
        }
    }

    /// Python's `str.splitlines()`: LF, CR LF, CR and the other Unicode line ends.
    static func lines(_ text: String) -> [Substring] {
        // Plain ASCII with LF line ends: split at the bytes (the same lines, without grapheme breaking).
        if text.utf8.allSatisfy({ $0 < 0x80 && $0 != 0x0D && $0 != 0x0B && $0 != 0x0C }) {
            return text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { Substring($0) }
                .dropLastIfEmpty(text)
        }
        return text.split(omittingEmptySubsequences: false) { $0.isNewline }.dropLastIfEmpty(text)
    }

    /// `^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$`: the group name and the tag after the colon.
    static func section(_ line: String) -> (String, String?)? {
        var rest = Substring(line)
        guard rest.first == "[" else { return nil }
        rest = rest.dropFirst()
        let name = rest.prefix { $0 != ":" && $0 != "]" && !$0.isWhitespace }
        guard !name.isEmpty else { return nil }
        rest = rest[name.endIndex...]
        var tag: Substring?
        if rest.first == ":" {
            rest = rest.dropFirst()
            let word = rest.prefix { character in
                character.unicodeScalars.allSatisfy {
                    $0 == "_" || $0.properties.isAlphabetic || $0.properties.numericType != nil
                }
            }
            guard !word.isEmpty else { return nil }
            tag = word
            rest = rest[word.endIndex...]
        }
        guard rest.first == "]" else { return nil }
        rest = rest.dropFirst().drop { $0.isWhitespace }
        guard rest.isEmpty || rest.first == "#" else { return nil }
        return (String(name), tag.map(String.init))
    }

    /// `^([^:\]\s]+)\s*(?:#.*)?$`: a child group's name.
    static func groupName(_ line: String) -> String? {
        let name = line.prefix { !$0.isWhitespace && $0 != ":" && $0 != "]" }
        guard !name.isEmpty else { return nil }
        let rest = line[name.endIndex...].drop { $0.isWhitespace }
        guard rest.isEmpty || rest.hasPrefix("#") else { return nil }
        return String(name)
    }

    /// The lines of a plain `host[:port]` list (no section, one word per line, no variables), or nil.
    static func plainList(_ lines: [Substring]) -> [(line: Int, word: String)]? {
        var words: [(Int, String)] = []
        for (offset, raw) in lines.enumerated() {
            if let word = plainWord(raw) {
                words.append((offset + 1, word))
                continue
            }
            let line = raw.stripping(" \t\r\n\u{0B}\u{0C}")
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && section(line) != nil { return nil }
            guard case .success(let split) = ShellWords.split(line), split.count == 1 else { return nil }
            words.append((offset + 1, split[0]))
        }
        return words
    }

    /// A line that is one word of letters, digits and `.-_:[]` between blanks (`10.0.0.7:9100`, `dev[01:20]`),
    /// decided on its bytes: that word, which is what the reading in ``plainList(_:)`` makes of it (stripped, one
    /// shell word, not a comment or a section). Nil for any other line, which that reading decides.
    static func plainWord(_ line: Substring) -> String? {
        let bytes = line.utf8
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }  // what `stripping` strips
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, isBlank(bytes[start]) { start = bytes.index(after: start) }
        while end > start, isBlank(bytes[bytes.index(before: end)]) { end = bytes.index(before: end) }
        guard start < end, bytes[start] != UInt8(ascii: "[") else { return nil }
        for byte in bytes[start..<end] {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"),
                UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
                continue
            default: return nil
            }
        }
        return String(line[start..<end])
    }

    /// A plain list: Ansible's reading, except that a host repeated with different ports stays several devices.
    private func readPlainList(
        _ words: [(line: Int, word: String)], into data: inout InventoryData
    )
        throws(InventoryError)
    {
        var entries: [(line: Int, names: [String], port: Int?)] = []
        entries.reserveCapacity(words.count)
        // Per name: the port it was first listed with, and whether it was listed with another one too (then each
        // `name:port` is a device of its own). Not a set of ports per name: a set per host was most of the time.
        var ports: [String: (first: Int?, several: Bool)] = [:]
        ports.reserveCapacity(words.count)
        data.reserveHosts(words.count)
        for (line, word) in words {
            let expanded: (names: [String], port: Int?)
            switch HostAddress.expand(word) {
            case .success(let value): expanded = value
            case .failure(let problem): throw InventoryError(path: path, line: line, message: problem.text)
            }
            if word.hasSuffix(":"), expanded.port == nil {
                throw InventoryError(
                    path: path, line: line,
                    message: "Invalid host pattern '\(word)' supplied, ending in ':' is not allowed, this character "
                        + "is reserved to provide a port.")
            }
            for name in expanded.names {
                if let seen = ports[name] {
                    if !seen.several, seen.first != expanded.port { ports[name] = (seen.first, true) }
                } else {
                    ports[name] = (expanded.port, false)
                }
            }
            entries.append((line, expanded.names, expanded.port))
        }
        for entry in entries {
            for name in entry.names {
                do {
                    if let port = entry.port, ports[name]!.several {  // filled above
                        let device = HostPort.text(name, port)
                        try data.addHost(device, group: "ungrouped", port: port)
                        try data.setVariable(device, "ansible_host", .string(name))
                    } else {
                        try data.addHost(name, group: "ungrouped", port: entry.port)
                    }
                } catch {
                    throw InventoryError(path: path, line: entry.line, message: error.text)
                }
            }
        }
    }
}

extension Array where Element == Substring {
    /// `splitlines()` does not yield an empty last line for text ending in a newline.
    fileprivate func dropLastIfEmpty(_ text: String) -> [Substring] {
        if let last, last.isEmpty, !isEmpty { return Array(dropLast()) }
        return self
    }
}
