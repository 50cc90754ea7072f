/// JSON string literals, written by hand on hot paths (run results, inventory listings, log lines) instead of through
/// an encoder: the same escapes as Python's `json.dumps(ensure_ascii=False)`, so output compares byte for byte with
/// `ansible-inventory`'s.
public enum JSONText {
    /// Appends `text` as a JSON string literal.
    public static func append(_ text: String, to out: inout String) {
        out += "\""
        if isPlain(text) {
            out += text  // nothing to escape (the common case: names, addresses, plain replies)
            out += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// Printable ASCII with no `"` or `\\`. A loop over the bytes: `allSatisfy` on a `String.UTF8View` ran through
    /// its protocol witnesses, byte by byte (a run renders several strings per device).
    private static func isPlain(_ text: String) -> Bool {
        for byte in text.utf8
        where byte < 0x20 || byte >= 0x80 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            return false
        }
        return true
    }

    /// `text` as a JSON string literal.
    public static func quoted(_ text: String) -> String {
        var out = ""
        append(text, to: &out)
        return out
    }
}
