import FleetFraming
internal import Yams

/// YAML as Ansible's loader reads it (PyYAML, YAML 1.1): typed scalars, merge keys (`<<`), anchors and aliases,
/// a repeated key keeping its first place and its last value.
enum YAMLValues {
    struct Problem: Error {
        let line: Int
        let text: String
    }

    /// The document in `text`, or nil when it is empty.
    static func compose(_ text: String) throws(Problem) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let error as YamlError {
            var line = 0
            if case .scanner(_, _, let mark, _) = error { line = mark.line }
            if case .parser(_, _, let mark, _) = error { line = mark.line }
            if case .composer(_, _, let mark, _) = error { line = mark.line }
            if case .duplicatedKeysInMapping(let duplicates, _) = error {
                let keys = duplicates.sorted().joined(separator: "', '")
                throw Problem(
                    line: line,
                    text: "the key '\(keys)' appears twice in one mapping (Ansible would keep the last one silently; "
                        + "fleetcmd refuses to guess)")
            }
            throw Problem(line: line, text: "not valid YAML")
        } catch {
            throw Problem(line: 0, text: "not valid YAML")
        }
    }

    /// A mapping's pairs with merge keys applied, in Python dict order (first place, last value).
    static func pairs(_ mapping: Node.Mapping) -> [(key: Node, value: Node)] {
        var merged: [(Node, Node)] = []
        var explicit: [(Node, Node)] = []
        for (key, value) in mapping {
            if case .scalar(let scalar) = key, scalar.string == "<<",
                scalar.style == .plain || Tag.Name(rawValue: key.tag.rawValue) == .merge
            {
                switch value {
                case .mapping(let source):
                    merged += pairs(source).map { ($0.key, $0.value) }
                case .sequence(let sources):
                    // PyYAML: later mappings first, so that the first one listed wins.
                    for source in sources.reversed() {
                        if case .mapping(let inner) = source { merged += pairs(inner).map { ($0.key, $0.value) } }
                    }
                default:
                    explicit.append((key, value))
                }
            } else {
                explicit.append((key, value))
            }
        }
        var order: [(key: Node, value: Node)] = []
        var position: [String: Int] = [:]
        for (key, value) in merged + explicit {
            let name = keyText(key)
            if let existing = position[name] {
                order[existing].value = value
            } else {
                position[name] = order.count
                order.append((key, value))
            }
        }
        return order
    }

    /// A key as a dict key's text (Python's json writes non-string keys as text too).
    static func keyText(_ node: Node) -> String {
        switch value(node) {
        case .string(let text): return text
        case let other: return other.text
        }
    }

    /// Whether a key is a string in Python (quoted, or plain text that resolves to no other type).
    static func isText(_ node: Node) -> Bool {
        if case .string = value(node) { return true }
        return false
    }

    static func value(_ node: Node) -> InventoryValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map { .bool($0) } ?? .string(scalar.string)
            case .int: return YAMLInteger.parse(scalar.string).map { .int($0) } ?? .string(scalar.string)
            case .float:
                // PyYAML's floats need a dot (1e3 is text), or are .inf/.nan.
                guard scalar.string.contains("."), let number = node.float else { return .string(scalar.string) }
                return .double(number)
            case .str: return .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .mapping(let mapping):
            var entries: [String: InventoryValue] = [:]
            for (key, value) in pairs(mapping) { entries[keyText(key)] = Self.value(value) }
            return .map(entries)
        case .sequence(let sequence):
            return .list(sequence.map { value($0) })
        case .alias:
            return .null  // Yams composes aliases into the nodes they name; an alias node is not expected here
        }
    }

    static func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

    static func typeName(_ node: Node) -> String {
        switch value(node) {
        case .null: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .map: return "dict"
        }
    }
}
