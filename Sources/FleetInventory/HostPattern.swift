import Foundation

/// Ansible host patterns as `ansible PATTERN --limit SUBSET` evaluates them: names of groups or hosts, globs
/// (`dev0*`, `web[12]`), regular expressions (`~dev0[1-3]`, matched at the start as Python's `re.match`),
/// subscripts (`web[0]`, `web[-1]`, `web[1:3]`, `web[2:]`), `@file` (each line a pattern), joined by `,` (or `:`)
/// into a union, with `&x` intersecting and `!x` excluding: unions first, then intersections, then exclusions.
///
/// The hosts come out in Ansible's order: for `fleetcmd run`, which selects `all` limited by the pattern, the order
/// of `all`; a term that matches nothing is a warning, as in Ansible.
public struct HostPattern: Sendable {
    public let text: String

    public init(_ text: String) { self.text = text }

    /// The outcome of a selection: the host names in order and what Ansible would warn about.
    public struct Selection: Sendable {
        public var names: [String] { indices.map { inventory.data.hosts[$0].name } }
        public var warnings: [String]
        public var isEmpty: Bool { indices.isEmpty }
        /// The selected hosts' places in the inventory, in order.
        let indices: [Int]
        let inventory: Inventory
    }

    /// The hosts `ansible PATTERN --limit TEXT` selects (with `pattern` `all`: what `fleetcmd run --limit TEXT` runs).
    public func evaluate(in inventory: Inventory, pattern: String = "all") throws(InventoryError) -> Selection {
        var evaluator = Evaluator(inventory: inventory)
        let subset = try Self.subsetPatterns(text)
        var hosts = try evaluator.evaluate(Self.split(pattern))
        if subset != ["all"] {  // `all` allows every host: no set of a million to build
            let allowed = Set(try evaluator.evaluate(subset))
            hosts = hosts.filter { allowed.contains($0) }
        }
        var seen = Set<Int>(minimumCapacity: hosts.count)
        hosts = hosts.filter { seen.insert($0).inserted }
        return Selection(warnings: evaluator.warnings, indices: hosts, inventory: inventory)
    }

    /// The selected hosts with their variables, in order (see ``evaluate(in:pattern:)``; warnings are dropped).
    public func select(from inventory: Inventory) throws(InventoryError) -> [Inventory.Host] {
        try inventory.hosts(in: evaluate(in: inventory))
    }

    static func fail(_ message: String) -> InventoryError { InventoryError(path: "--limit", line: 0, message: message) }

    /// `InventoryManager.subset`: the pattern's terms, with each `@file` replaced by the file's lines.
    static func subsetPatterns(_ text: String) throws(InventoryError) -> [String] {
        var results: [String] = []
        for term in split(text) {
            guard term.hasPrefix("@") else {
                results.append(term)
                continue
            }
            let path = String(term.dropFirst())
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw fail("Unable to find limit file \(path)")
            }
            guard !isDirectory.boolValue, let data = FileManager.default.contents(atPath: path) else {
                throw fail("Limit starting with \"@\" must be valid path to file, not a directory.")
            }
            results += String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
                .map { String($0).stripping(" \t\r\n\u{0B}\u{0C}") }
        }
        return results
    }

    /// `split_host_pattern`: on commas if there is one; else whole when it reads as one host (IPv6, ranges); else
    /// on colons outside brackets.
    static func split(_ text: String) -> [String] {
        let parts: [String]
        if text.contains(",") {
            parts = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        } else if case .success = HostAddress.parse(text, allowRanges: true) {
            parts = [text]
        } else {
            var found: [String] = []
            var current = ""
            let scalars = Array(text.unicodeScalars)
            var index = 0
            func flush() {
                if !current.isEmpty { found.append(current) }
                current = ""
            }
            while index < scalars.count {
                let scalar = scalars[index]
                if scalar == "[" {
                    if let close = scalars[(index + 1)...].firstIndex(of: "]") {
                        current.unicodeScalars.append(contentsOf: scalars[index...close])
                        index = close + 1
                    } else {
                        flush()
                        index += 1
                    }
                } else if scalar == ":" || scalar == "]" || scalar.properties.isWhitespace {
                    flush()
                    index += 1
                } else {
                    current.unicodeScalars.append(scalar)
                    index += 1
                }
            }
            flush()
            parts = found
        }
        return parts.map { $0.stripping(" \t\r\n\u{0B}\u{0C}") }.filter { !$0.isEmpty }
    }

    /// `order_patterns`: plain terms, then `&` terms, then `!` terms; `all` when there is no plain term.
    static func ordered(_ patterns: [String]) -> [String] {
        var regular: [String] = []
        var intersections: [String] = []
        var exclusions: [String] = []
        for pattern in patterns where !pattern.isEmpty {
            if pattern.hasPrefix("!") {
                exclusions.append(pattern)
            } else if pattern.hasPrefix("&") {
                intersections.append(pattern)
            } else {
                regular.append(pattern)
            }
        }
        if regular.isEmpty { regular = ["all"] }
        return regular + intersections + exclusions
    }

    /// Evaluates terms against one inventory, caching each term's matches as Ansible's `_pattern_cache` does.
    struct Evaluator {
        let inventory: Inventory
        var cache: [String: [Int]] = [:]
        var warnings: [String] = []
        var groupHosts: [Int: [Int]] = [:]

        init(inventory: Inventory) { self.inventory = inventory }

        mutating func evaluate(_ patterns: [String]) throws(InventoryError) -> [Int] {
            var hosts: [Int] = []
            for pattern in HostPattern.ordered(patterns) {
                if let host = inventory.data.hostIndex[pattern] {
                    hosts.append(host)
                    continue
                }
                let that = try matchOne(pattern)
                if pattern.hasPrefix("!") {
                    let excluded = Set(that)
                    hosts.removeAll { excluded.contains($0) }
                } else if pattern.hasPrefix("&") {
                    let kept = Set(that)
                    hosts.removeAll { !kept.contains($0) }
                } else {
                    let existing = Set(hosts)
                    hosts += that.filter { !existing.contains($0) }
                }
            }
            return hosts
        }

        mutating func matchOne(_ term: String) throws(InventoryError) -> [Int] {
            let pattern = term.hasPrefix("&") || term.hasPrefix("!") ? String(term.dropFirst()) : term
            if let cached = cache[pattern] { return cached }
            let (expression, bounds) = HostPattern.splitSubscript(pattern)
            if bounds != nil, let close = pattern.lastIndex(of: "["), pattern[close...].contains("-"),
                !pattern[close...].hasPrefix("[-")
            {
                warnings.append("Use [x:y] inclusive subscripts instead of [x-y] which has been removed")
            }
            var hosts = try enumerateMatches(expression)
            if let bounds, !hosts.isEmpty {
                let (start, end) = bounds
                if let end, end != 0 {
                    let last = end == -1 ? hosts.count - 1 : end
                    let lower = min(max(start, 0), hosts.count)
                    let upper = min(max(last + 1, 0), hosts.count)
                    hosts = lower < upper ? Array(hosts[lower..<upper]) : []
                } else {
                    let index = start < 0 ? hosts.count + start : start
                    guard hosts.indices.contains(index) else {
                        throw HostPattern.fail("No hosts matched the subscripted pattern '\(pattern)'")
                    }
                    hosts = [hosts[index]]
                }
            }
            cache[pattern] = hosts
            return hosts
        }

        mutating func hostsOf(group: Int) -> [Int] {
            if let cached = groupHosts[group] { return cached }
            let hosts = inventory.data.hostsOf(group: group)
            groupHosts[group] = hosts
            return hosts
        }

        mutating func enumerateMatches(_ pattern: String) throws(InventoryError) -> [Int] {
            let data = inventory.data
            let matcher = try NameMatcher(pattern)
            var results: [Int] = []
            var matchedGroups = false
            if let exact = matcher.exactName {
                if let group = data.groupIndex[exact] {
                    matchedGroups = true
                    results += hostsOf(group: group)
                }
            } else {
                for group in data.groups.indices where matcher.matches(data.groups[group].name) {
                    matchedGroups = true
                    results += hostsOf(group: group)
                }
            }
            let special = pattern.hasPrefix("~") || pattern.contains(where: { ".?*[".contains($0) })
            if !matchedGroups || special {
                if let exact = matcher.exactName {
                    if let host = data.hostIndex[exact] { results.append(host) }
                } else {
                    for host in data.hosts.indices where matcher.matches(data.hosts[host].name) { results.append(host) }
                }
            }
            if results.isEmpty, ["localhost", "127.0.0.1", "::1"].contains(pattern) {
                return results  // Ansible's implicit localhost: never part of `all`, and not warned about
            }
            if results.isEmpty, !matchedGroups, pattern != "all" {
                warnings.append("Could not match supplied host pattern, ignoring: \(pattern)")
            }
            return results
        }
    }

    /// `_split_subscript`: `web[1:3]` into `web` and (1, 3); `[2:]` has end -1; `[-1]` has no end.
    static func splitSubscript(_ pattern: String) -> (String, (Int, Int?)?) {
        guard !pattern.hasPrefix("~"), pattern.hasSuffix("]"), let open = pattern.lastIndex(of: "["),
            open > pattern.startIndex
        else { return (pattern, nil) }
        let inner = pattern[pattern.index(after: open)..<pattern.index(before: pattern.endIndex)]
        let head = String(pattern[..<open])
        let digits = { (text: Substring) in !text.isEmpty && text.allSatisfy { $0.isASCII && $0.isNumber } }
        let unsigned = inner.hasPrefix("-") ? inner.dropFirst() : inner
        if digits(unsigned), let index = Int(inner) { return (head, (index, nil)) }
        guard let separator = inner.firstIndex(where: { $0 == ":" || $0 == "-" }) else { return (pattern, nil) }
        let start = inner[..<separator]
        let end = inner[inner.index(after: separator)...]
        guard digits(start), end.isEmpty || digits(end), let first = Int(start) else { return (pattern, nil) }
        return (head, (first, end.isEmpty ? -1 : Int(end)))
    }
}

/// One host-pattern term as Ansible matches names: `~regex` with Python's `re.match` (anchored at the start),
/// otherwise `fnmatch` (the whole name, case-sensitive).
struct NameMatcher {
    private enum Kind {
        case exact(String)
        case glob([Unicode.Scalar])
        case regex(Regex<AnyRegexOutput>, anchoredAtStart: Bool)
    }

    private let kind: Kind

    init(_ pattern: String) throws(InventoryError) {
        if pattern.hasPrefix("~") {
            do {
                let regex = try Regex(String(pattern.dropFirst())).matchingSemantics(.unicodeScalar)
                kind = .regex(regex, anchoredAtStart: true)
            } catch {
                throw HostPattern.fail("Invalid host list pattern: \(pattern)")
            }
        } else if !pattern.contains(where: { "*?[".contains($0) }) {
            kind = .exact(pattern)
        } else if !pattern.contains("[") {
            kind = .glob(Array(pattern.unicodeScalars))
        } else {
            do {
                let regex = try Regex(Self.translate(pattern)).matchingSemantics(.unicodeScalar).dotMatchesNewlines()
                kind = .regex(regex, anchoredAtStart: false)
            } catch {
                throw HostPattern.fail("Invalid host list pattern: \(pattern)")
            }
        }
    }

    /// The name this term can only match, when it has no glob characters.
    var exactName: String? {
        if case .exact(let name) = kind { return name }
        return nil
    }

    func matches(_ name: String) -> Bool {
        switch kind {
        case .exact(let text): return name == text
        case .glob(let pattern): return Self.glob(pattern[...], Array(name.unicodeScalars)[...])
        case .regex(let regex, let anchoredAtStart):
            if anchoredAtStart { return (try? regex.prefixMatch(in: name)) != nil }
            return (try? regex.wholeMatch(in: name)) != nil
        }
    }

    /// `*` and `?` only (no classes): iterative matching with one backtrack point.
    private static func glob(_ pattern: ArraySlice<Unicode.Scalar>, _ name: ArraySlice<Unicode.Scalar>) -> Bool {
        var p = pattern.startIndex
        var n = name.startIndex
        var star: Int?
        var resume = n
        while n < name.endIndex {
            if p < pattern.endIndex, pattern[p] == "?" || pattern[p] == name[n] && pattern[p] != "*" {
                p += 1
                n += 1
            } else if p < pattern.endIndex, pattern[p] == "*" {
                star = p
                p += 1
                resume = n
            } else if let star {
                p = star + 1
                resume += 1
                n = resume
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }

    /// Python 3.11's `fnmatch.translate`, written for Swift's regex syntax (every literal as `\u{…}`).
    static func translate(_ pattern: String) -> String {
        let chars = Array(pattern.unicodeScalars)
        func literal(_ scalar: Unicode.Scalar) -> String { "\\u{" + String(scalar.value, radix: 16) + "}" }
        var result = ""
        var i = 0
        let n = chars.count
        while i < n {
            let c = chars[i]
            i += 1
            if c == "*" {
                if !result.hasSuffix(".*") { result += ".*" }
            } else if c == "?" {
                result += "."
            } else if c == "[" {
                var j = i
                if j < n, chars[j] == "!" { j += 1 }
                if j < n, chars[j] == "]" { j += 1 }
                while j < n, chars[j] != "]" { j += 1 }
                if j >= n {
                    result += literal("[")
                    continue
                }
                let negated = chars[i] == "!"
                var chunks: [[Unicode.Scalar]] = []
                var start = i
                var k = negated ? i + 2 : i + 1
                if chars[i..<j].contains("-") {
                    while true {
                        guard k < j, let dash = chars[k..<j].firstIndex(of: "-") else { break }
                        chunks.append(Array(chars[start..<dash]))
                        start = dash + 1
                        k = dash + 3
                    }
                    let chunk = Array(chars[start..<j])
                    if !chunk.isEmpty {
                        chunks.append(chunk)
                    } else if !chunks.isEmpty {
                        chunks[chunks.count - 1].append("-")
                    }
                    var index = chunks.count - 1
                    while index > 0 {
                        if let last = chunks[index - 1].last, let first = chunks[index].first, last.value > first.value
                        {
                            chunks[index - 1] = Array(chunks[index - 1].dropLast()) + Array(chunks[index].dropFirst())
                            chunks.remove(at: index)
                        }
                        index -= 1
                    }
                } else {
                    chunks = [Array(chars[i..<j])]
                }
                i = j + 1
                // The class's text as Python builds it, then each character as a literal, ranges kept.
                var flat = chunks.flatMap { $0 }
                if negated, !chunks.isEmpty, chunks[0].first == "!" {
                    chunks[0].removeFirst()
                    flat.removeFirst()
                }
                if flat.isEmpty && !negated {
                    result += "(?!)"
                } else if flat.isEmpty && negated {
                    result += "."
                } else {
                    result +=
                        "[" + (negated ? "^" : "")
                        + chunks.map { $0.map(literal).joined() }.joined(separator: "-") + "]"
                }
            } else {
                result += literal(c)
            }
        }
        return result
    }
}
