import Foundation

/// Ansible host patterns, as `--limit` takes them: names of groups or hosts, globs (`dev0*`), regular
/// expressions (`~dev0[1-3]`), `@file` (one host per line, as `--failed-hosts` writes), `all`/`*`, joined by `:` or
/// `,` into a union, with `&x` intersecting and `!x` excluding. As in Ansible, the union is taken first, then
/// every intersection, then every exclusion, whatever their order.
public struct HostPattern: Sendable {
    public let text: String

    public init(_ text: String) { self.text = text }

    /// The selected hosts, in inventory order.
    public func select(from inventory: Inventory) throws(InventoryError) -> [Inventory.Host] {
        var union = Set<String>()
        var intersections: [Set<String>] = []
        var exclusions = Set<String>()
        var hasUnion = false
        for term in Self.terms(text) {
            if term.hasPrefix("&") {
                intersections.append(try match(String(term.dropFirst()), in: inventory))
            } else if term.hasPrefix("!") {
                exclusions.formUnion(try match(String(term.dropFirst()), in: inventory))
            } else {
                hasUnion = true
                union.formUnion(try match(term, in: inventory))
            }
        }
        if !hasUnion { union = Set(inventory.hosts.map(\.name)) }
        for set in intersections { union.formIntersection(set) }
        union.subtract(exclusions)
        return inventory.hosts.filter { union.contains($0.name) }
    }

    /// Splits on `,` and on `:` outside brackets (so `dev[01:10]` and `@file` paths with no colon survive).
    static func terms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "[": depth += 1
            case "]": depth = max(0, depth - 1)
            default: break
            }
            if (character == "," || character == ":") && depth == 0 && !current.hasPrefix("@") {
                if !current.isEmpty { terms.append(current) }
                current = ""
            } else if character == "," && current.hasPrefix("@") {
                terms.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { terms.append(current) }
        return terms.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    private func match(_ term: String, in inventory: Inventory) throws(InventoryError) -> Set<String> {
        func fail(_ message: String) -> InventoryError { InventoryError(path: "--limit", line: 0, message: message) }
        if term == "all" || term == "*" { return Set(inventory.hosts.map(\.name)) }
        if term.hasPrefix("@") {
            let path = String(term.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)") }
            let names = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
            var selected = Set<String>()
            for name in names {
                if inventory.host(named: name) != nil {
                    selected.insert(name)
                } else {
                    selected.formUnion(inventory.hostNames(inGroup: name))
                }
            }
            return selected
        }
        if term.hasPrefix("~") {
            let regex: Regex<AnyRegexOutput>
            do {
                regex = try Regex(String(term.dropFirst()))
            } catch {
                throw fail("bad regular expression '\(term.dropFirst())'")
            }
            return Set(inventory.hosts.map(\.name).filter { (try? regex.firstMatch(in: $0)) != nil })
        }
        if Self.isGlob(term) {
            var selected = Set(inventory.hosts.map(\.name).filter { Self.glob(term, matches: $0) })
            for group in inventory.groups.keys where Self.glob(term, matches: group) {
                selected.formUnion(inventory.hostNames(inGroup: group))
            }
            return selected
        }
        if inventory.groups[term] != nil { return inventory.hostNames(inGroup: term) }
        if inventory.host(named: term) != nil { return [term] }
        if case .success(let names) = HostRange.expand(term), names.count > 1 || names.first != term {
            return Set(names.filter { inventory.host(named: $0) != nil })
        }
        throw fail("'\(term)' names no group or host in the inventory")
    }

    /// Shell-style globbing as Python's `fnmatch` (which Ansible uses): `*`, `?`, `[abc]`, `[0-9]`, `[!x]`.
    static func glob(_ pattern: String, matches name: String) -> Bool {
        var regex = "^"
        var inClass = false
        for character in pattern {
            if inClass {
                if character == "]" { inClass = false }
                regex.append(character == "\\" ? "\\\\" : String(character))
                continue
            }
            switch character {
            case "*": regex += ".*"
            case "?": regex += "."
            case "[":
                inClass = true
                regex += "["
            default:
                regex += "\\Q" + String(character) + "\\E"
            }
        }
        guard !inClass else { return pattern == name }
        regex = regex.replacingOccurrences(of: "[!", with: "[^") + "$"
        guard let compiled = try? Regex(regex) else { return pattern == name }
        return (try? compiled.wholeMatch(in: name)) != nil
    }

    static func isGlob(_ term: String) -> Bool {
        if term.contains(where: { "*?".contains($0) }) { return true }
        guard term.contains("[") else { return false }
        if case .success = HostRange.expand(term) { return false }
        return true
    }
}

extension Inventory.Host {
    /// Where to reach the device: `ansible_host` (else the name) and `fleetcmd_port` or `device_port` (else
    /// `defaultPort`).
    public func endpoint(defaultPort: Int) -> (host: String, port: Int?) {
        let host = variables["ansible_host"] ?? name
        let portText = variables["fleetcmd_port"] ?? variables["device_port"]
        guard let portText else { return (host, defaultPort) }
        guard let port = Int(portText), (1...65535).contains(port) else { return (host, nil) }
        return (host, port)
    }

    /// The framing preset for this device (`fleetcmd_preset`), if its groups or itself set one.
    public var preset: String? { variables["fleetcmd_preset"] }

    /// A stable shard number in `0..<count` from the name (FNV-1a), the same on every machine and run.
    public func shard(of count: Int) -> Int {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(count))
    }
}
