import FleetFraming
import FleetYAML
import Yams

/// YAML as Ansible's loader reads it (PyYAML, YAML 1.1): typed scalars, merge keys (`<<`), anchors and aliases,
/// a repeated key keeping its first place and its last value.
enum YAMLValues {
    struct Problem: Error {
        let line: Int
        let text: String
    }

    /// The document in `text`, or nil when it is empty.
    static func compose(_ text: String) throws(Problem) -> Node? {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            let line = YAMLErrorText.line(of: error)
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
        if let root {
            var budget = maxValues
            try checkKeys(root, budget: &budget)
        }
        return root
    }

    /// Values a document may expand to once its aliases are followed (a "billion laughs" document of a few
    /// hundred bytes would otherwise expand to billions).
    static let maxValues = 20_000_000

    /// PyYAML refuses a mapping key that is a mapping or a list ("found unhashable key"), and so does Ansible;
    /// so do we (rendering such keys as text would also grow with each level of nesting). Counts values on the
    /// way against `budget`.
    private static func checkKeys(_ node: Node, budget: inout Int) throws(Problem) {
        budget -= 1
        guard budget >= 0 else {
            throw Problem(
                line: line(node),
                text: "the document expands to more than \(maxValues) values once its aliases are followed")
        }
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                switch key {
                case .mapping, .sequence:
                    throw Problem(line: line(key), text: "While constructing a mapping found unhashable key")
                default:
                    break
                }
                try checkKeys(value, budget: &budget)
            }
        case .sequence(let sequence):
            for item in sequence { try checkKeys(item, budget: &budget) }
        case .scalar, .alias:
            break
        }
    }

    /// A mapping's pairs with merge keys applied, in Python dict order (first place, last value), with each
    /// key's text, made once per key: a key that is itself a mapping (`? key`) is
    /// rendered from its own pairs, and rendering it again at every level would double the work per level of
    /// nesting (a fuzzer found 250 bytes that took minutes).
    static func namedPairs(_ mapping: Node.Mapping) -> [(name: String, key: Node, value: Node)] {
        var merged: [(name: String, key: Node, value: Node)] = []
        var explicit: [(name: String?, key: Node, value: Node)] = []
        for (key, value) in mapping {
            if case .scalar(let scalar) = key, scalar.string == "<<",
                scalar.style == .plain || Tag.Name(rawValue: key.tag.rawValue) == .merge
            {
                switch value {
                case .mapping(let source):
                    merged += namedPairs(source)
                case .sequence(let sources):
                    // PyYAML: later mappings first, so that the first one listed wins.
                    for source in sources.reversed() {
                        if case .mapping(let inner) = source { merged += namedPairs(inner) }
                    }
                default:
                    explicit.append((nil, key, value))
                }
            } else {
                explicit.append((nil, key, value))
            }
        }
        var order: [(name: String, key: Node, value: Node)] = []
        var position: [String: Int] = [:]
        for (known, key, value) in merged.map({ (Optional($0.name), $0.key, $0.value) }) + explicit {
            let name = known ?? keyText(key)
            if let existing = position[name] {
                order[existing].value = value
            } else {
                position[name] = order.count
                order.append((name, key, value))
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
            for (name, _, value) in namedPairs(mapping) { entries[name] = Self.value(value) }
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
