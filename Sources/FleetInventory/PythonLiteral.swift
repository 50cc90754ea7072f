/// Python's `ast.literal_eval` for the values of an Ansible INI inventory, as its `ini` plugin reads them: numbers,
/// strings (quotes, escapes, prefixes, adjacent literals joined), `True`/`False`/`None`, lists, tuples, sets and
/// dicts; text that is none of these stays the text it was.
enum PythonLiteral {
    /// The value of `text` as the `ini` plugin stores it: the literal, or `text` itself when it is not one.
    static func value(of text: String) -> InventoryValue {
        // Most values are names and addresses: one that starts with an ASCII letter that begins no literal (True,
        // False, None, a string prefix) is a Python name, never a literal; it stays text without parsing.
        if let first = text.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20),
            !"tfnbru".utf8.contains(first | 0x20)
        {
            return .string(text)
        }
        // Plain decimal integers (ports, counts), and dotted quads, which no Python literal is.
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        if !text.isEmpty, text.utf8.allSatisfy(isDigit) {
            // Python 3 rejects 012 (leading zeros) but accepts 0 and 00; a number past 64 bits stays text.
            if text.utf8.first == UInt8(ascii: "0"), text.utf8.contains(where: { $0 != UInt8(ascii: "0") }) {
                return .string(text)
            }
            return Int(text).map { .int($0) } ?? .string(text)
        }
        if text.utf8.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }),
            text.utf8.filter({ $0 == UInt8(ascii: ".") }).count >= 2
        {
            return .string(text)
        }
        var parser = Parser(Array(text.unicodeScalars))
        guard let value = parser.parseWhole() else { return .string(text) }
        return value
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var position = 0

        init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

        mutating func parseWhole() -> InventoryValue? {
            skipSpace()
            guard let value = parseExpression() else { return nil }
            skipSpace()
            return position == scalars.count ? value : nil
        }

        var current: Unicode.Scalar? { position < scalars.count ? scalars[position] : nil }

        /// Spaces, and a `#` comment to the end (Python's tokenizer drops it: `5 # c` is 5).
        mutating func skipSpace() {
            while let scalar = current {
                if scalar == " " || scalar == "\t" || scalar == "\u{0C}" {
                    position += 1
                } else if scalar == "#" {
                    while let next = current, next != "\n" { _ = next; position += 1 }
                } else {
                    return
                }
            }
        }

        mutating func parseExpression() -> InventoryValue? {
            skipSpace()
            guard let scalar = current else { return nil }
            if scalar == "-" || scalar == "+" {
                position += 1
                skipSpace()
                guard let operand = parseExpression() else { return nil }
                switch operand {
                case .int(let value): return scalar == "-" ? .int(-value) : .int(value)
                case .double(let value): return scalar == "-" ? .double(-value) : .double(value)
                case .bool(let value):  // -True is -1 in Python
                    return .int(scalar == "-" ? (value ? -1 : 0) : (value ? 1 : 0))
                default: return nil
                }
            }
            switch scalar {
            case "[": return parseSequence(close: "]").map { .list($0) }
            case "(":
                position += 1
                skipSpace()
                if current == ")" {
                    position += 1
                    return .list([])
                }
                position -= 1
                return parseTupleOrGroup()
            case "{": return parseBraces()
            case "\"", "'": return parseStrings()
            default: break
            }
            if ("0"..."9").contains(scalar) || scalar == "." {
                return parseNumber()
            }
            if isIdentifierStart(scalar) {
                let start = position
                while let next = current, isIdentifierPart(next) { position += 1 }
                let word = String(String.UnicodeScalarView(scalars[start..<position]))
                if let quote = current, quote == "\"" || quote == "'",
                    ["r", "u", "b", "br", "rb", "R", "U", "B", "Br", "bR", "BR", "Rb", "rB", "RB"].contains(word)
                {
                    position = start
                    return parseStrings()
                }
                switch word {
                case "True": return .bool(true)
                case "False": return .bool(false)
                case "None": return .null
                default: return nil
                }
            }
            return nil
        }

        func isIdentifierStart(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "_" || scalar.properties.isXIDStart
        }

        func isIdentifierPart(_ scalar: Unicode.Scalar) -> Bool {
            scalar == "_" || scalar.properties.isXIDContinue
        }

        mutating func parseSequence(close: Unicode.Scalar) -> [InventoryValue]? {
            position += 1  // the opening bracket
            var items: [InventoryValue] = []
            skipSpace()
            if current == close {
                position += 1
                return items
            }
            while true {
                guard let item = parseExpression() else { return nil }
                items.append(item)
                skipSpace()
                if current == "," {
                    position += 1
                    skipSpace()
                    if current == close {
                        position += 1
                        return items
                    }
                    continue
                }
                if current == close {
                    position += 1
                    return items
                }
                return nil
            }
        }

        mutating func parseTupleOrGroup() -> InventoryValue? {
            position += 1  // (
            guard let first = parseExpression() else { return nil }
            skipSpace()
            if current == ")" {
                position += 1
                return first  // (x) is x
            }
            guard current == "," else { return nil }
            var items = [first]
            while current == "," {
                position += 1
                skipSpace()
                if current == ")" { break }
                guard let item = parseExpression() else { return nil }
                items.append(item)
                skipSpace()
            }
            guard current == ")" else { return nil }
            position += 1
            return .list(items)
        }

        /// `{}` is a dict; `{1, 2}` a set (the plugin turns sets into lists); `{k: v}` a dict.
        mutating func parseBraces() -> InventoryValue? {
            position += 1
            skipSpace()
            if current == "}" {
                position += 1
                return .map([:])
            }
            guard let first = parseExpression() else { return nil }
            skipSpace()
            if current == ":" {
                var entries: [String: InventoryValue] = [:]
                var key = first
                while true {
                    guard current == ":" else { return nil }
                    position += 1
                    guard let value = parseExpression() else { return nil }
                    guard let name = Self.keyText(key) else { return nil }
                    entries[name] = value
                    skipSpace()
                    if current == "," {
                        position += 1
                        skipSpace()
                        if current == "}" { break }
                        guard let next = parseExpression() else { return nil }
                        key = next
                        skipSpace()
                        continue
                    }
                    break
                }
                guard current == "}" else { return nil }
                position += 1
                return .map(entries)
            }
            var items = [first]
            while current == "," {
                position += 1
                skipSpace()
                if current == "}" { break }
                guard let item = parseExpression() else { return nil }
                if !items.contains(item) { items.append(item) }
                skipSpace()
            }
            guard current == "}" else { return nil }
            position += 1
            return .list(items)
        }

        /// Keys as JSON output shows them (Python's json turns int and bool keys into text).
        static func keyText(_ key: InventoryValue) -> String? {
            switch key {
            case .string(let text): return text
            case .int(let value): return String(value)
            case .bool(let value): return value ? "true" : "false"
            case .null: return "null"
            case .double(let value): return InventoryValue.pythonFloat(value)
            default: return nil  // unhashable in Python
            }
        }

        /// One or more adjacent string literals, joined ('a' "b" is 'ab'); bytes and text cannot mix.
        mutating func parseStrings() -> InventoryValue? {
            var result = ""
            var sawBytes: Bool?
            while true {
                skipSpace()
                let start = position
                var prefix = ""
                while let scalar = current, "rRbBuU".unicodeScalars.contains(scalar), prefix.count < 2 {
                    prefix.unicodeScalars.append(scalar)
                    position += 1
                }
                guard let quote = current, quote == "\"" || quote == "'" else {
                    position = start
                    break
                }
                let isBytes = prefix.lowercased().contains("b")
                if let sawBytes, sawBytes != isBytes { return nil }
                sawBytes = isBytes
                guard let text = parseString(quote: quote, raw: prefix.lowercased().contains("r")) else { return nil }
                result += text
            }
            return sawBytes == nil ? nil : .string(result)
        }

        mutating func parseString(quote: Unicode.Scalar, raw: Bool) -> String? {
            let triple =
                position + 2 < scalars.count && scalars[position + 1] == quote && scalars[position + 2] == quote
            position += triple ? 3 : 1
            var text = String.UnicodeScalarView()
            while let scalar = current {
                if scalar == quote {
                    if !triple {
                        position += 1
                        return String(text)
                    }
                    if position + 2 < scalars.count, scalars[position + 1] == quote, scalars[position + 2] == quote {
                        position += 3
                        return String(text)
                    }
                }
                if scalar == "\n", !triple { return nil }
                if scalar == "\\" {
                    guard position + 1 < scalars.count else { return nil }
                    let next = scalars[position + 1]
                    if raw {
                        text.append(scalar)
                        text.append(next)
                        position += 2
                        continue
                    }
                    position += 2
                    switch next {
                    case "n": text.append("\n")
                    case "t": text.append("\t")
                    case "r": text.append("\r")
                    case "\\": text.append("\\")
                    case "'": text.append("'")
                    case "\"": text.append("\"")
                    case "a": text.append("\u{07}")
                    case "b": text.append("\u{08}")
                    case "f": text.append("\u{0C}")
                    case "v": text.append("\u{0B}")
                    case "0"..."7":
                        var digits = String(next)
                        while digits.count < 3, let digit = current, ("0"..."7").contains(digit) {
                            digits.unicodeScalars.append(digit)
                            position += 1
                        }
                        guard let value = UInt32(digits, radix: 8), let decoded = Unicode.Scalar(value) else {
                            return nil
                        }
                        text.append(decoded)
                    case "x", "u", "U":
                        let count = next == "x" ? 2 : next == "u" ? 4 : 8
                        guard position + count <= scalars.count else { return nil }
                        let digits = String(String.UnicodeScalarView(scalars[position..<position + count]))
                        guard let value = UInt32(digits, radix: 16), let decoded = Unicode.Scalar(value) else {
                            return nil
                        }
                        position += count
                        text.append(decoded)
                    case "\n": break
                    default:
                        text.append("\\")
                        text.append(next)
                    }
                    continue
                }
                text.append(scalar)
                position += 1
            }
            return nil
        }

        mutating func parseNumber() -> InventoryValue? {
            let start = position
            func isHex(_ from: Int) -> Bool {
                position - from >= 2 && scalars[from] == "0" && (scalars[from + 1] == "x" || scalars[from + 1] == "X")
            }
            while let scalar = current,
                Self.isNumberScalar(scalar)
                    || ((scalar == "+" || scalar == "-") && position > start
                        && (scalars[position - 1] == "e" || scalars[position - 1] == "E") && !isHex(start))
            {
                position += 1
            }
            if let suffix = current, suffix == "j" || suffix == "J" {
                // complex numbers: the plugin keeps their str(); rare enough to keep the text as Python prints it.
                return nil
            }
            // Every scalar taken is ASCII: work on bytes.
            let word = scalars[start..<position].map { UInt8(truncatingIfNeeded: $0.value) }
            let underscore = UInt8(ascii: "_")
            if word.first == underscore || word.last == underscore { return nil }
            if zip(word, word.dropFirst()).contains(where: { $0 == underscore && $1 == underscore }) { return nil }
            let lower = word.filter { $0 != underscore }.map { $0 | ($0 >= 0x41 && $0 <= 0x5A ? 0x20 : 0) }
            let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
            if lower.count >= 2, lower[0] == UInt8(ascii: "0") {
                for (letter, radix) in [(UInt8(ascii: "x"), 16), (UInt8(ascii: "o"), 8), (UInt8(ascii: "b"), 2)]
                where lower[1] == letter {
                    return Int(String(decoding: lower.dropFirst(2), as: UTF8.self), radix: radix).map { .int($0) }
                }
            }
            if lower.allSatisfy(isDigit) {
                // Python 3 rejects 012 (leading zeros), but accepts 0, 00.
                if lower.count > 1, lower[0] == UInt8(ascii: "0"), lower.contains(where: { $0 != UInt8(ascii: "0") }) {
                    return nil
                }
                return Int(String(decoding: lower, as: UTF8.self)).map { .int($0) }
            }
            let dot = UInt8(ascii: ".")
            let exponent = UInt8(ascii: "e")
            guard lower.contains(where: { $0 == dot || $0 == exponent }),
                lower.allSatisfy({
                    isDigit($0) || $0 == dot || $0 == exponent || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-")
                }),
                let value = Double(
                    String(decoding: (lower.first == dot ? [UInt8(ascii: "0")] : []) + lower, as: UTF8.self))
            else { return nil }
            return .double(value)
        }

        /// Hex digits and `xXoObB._` (what a number literal can hold besides an exponent's sign).
        static func isNumberScalar(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar {
            case "0"..."9", "a"..."f", "A"..."F", "x", "X", "o", "O", "_", ".": return true
            default: return false
            }
        }
    }
}
