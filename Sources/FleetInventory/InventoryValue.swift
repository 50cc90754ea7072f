import FleetFraming

/// A variable's value as Ansible holds it: the types YAML, JSON and INI's `ast.literal_eval` produce.
///
/// `fleetcmd inventory --list` prints these exactly as `ansible-inventory --list` does (Python's `json.dumps`), and
/// ``text`` is the form fleetcmd's own settings (`fleetcmd_port`, `ansible_host`, …) read.
public indirect enum InventoryValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([InventoryValue])
    case map([String: InventoryValue])

    /// The value as fleetcmd's settings read it: strings as they are, numbers in decimal, `true`/`false`, JSON for
    /// lists and maps, the empty string for null.
    public var text: String {
        switch self {
        case .null: return ""
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .double(let value): return Self.pythonFloat(value)
        case .string(let value): return value
        case .list, .map: return json()
        }
    }

    /// JSON as Python's `json.dumps(sort_keys=True, ensure_ascii=False)` writes it; `indent` > 0 lays it out as
    /// `indent=N` does.
    public func json(indent: Int = 0) -> String {
        var out = ""
        write(into: &out, indent: indent, level: 0)
        return out
    }

    private func write(into out: inout String, indent: Int, level: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value):
            if value.isNaN {
                out += "NaN"
            } else if value.isInfinite {
                out += value < 0 ? "-Infinity" : "Infinity"
            } else {
                out += Self.pythonFloat(value)
            }
        case .string(let value): Self.writeString(value, into: &out)
        case .list(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            for (offset, item) in items.enumerated() {
                if offset > 0 { out += indent > 0 ? "," : ", " }
                if indent > 0 { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                item.write(into: &out, indent: indent, level: level + 1)
            }
            if indent > 0 { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "]"
        case .map(let entries):
            if entries.isEmpty {
                out += "{}"
                return
            }
            out += "{"
            for (offset, key) in entries.keys.sorted(by: Self.pythonOrder).enumerated() {
                if offset > 0 { out += indent > 0 ? "," : ", " }
                if indent > 0 { out += "\n" + String(repeating: " ", count: indent * (level + 1)) }
                Self.writeString(key, into: &out)
                out += ": "
                entries[key]!.write(into: &out, indent: indent, level: level + 1)  // key from entries.keys
            }
            if indent > 0 { out += "\n" + String(repeating: " ", count: indent * level) }
            out += "}"
        }
    }

    /// Python sorts strings by code point; Swift's `<` on String compares by Unicode canonical ordering.
    static func pythonOrder(_ lhs: String, _ rhs: String) -> Bool {
        lhs.unicodeScalars.lexicographicallyPrecedes(rhs.unicodeScalars) { $0.value < $1.value }
    }

    static func writeString(_ value: String, into out: inout String) { JSONText.append(value, to: &out) }

    /// Python's `repr(float)` for the usual values: the shortest text that reads back the same, `.0` on whole
    /// numbers (Swift prints the same digits; they differ only in when an exponent starts, around 1e16).
    static func pythonFloat(_ value: Double) -> String { "\(value)" }
}
