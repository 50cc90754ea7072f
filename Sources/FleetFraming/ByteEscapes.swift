/// Turning command text into bytes and bytes into safe, readable text.
///
/// Input forms (``parse(_:)``):
/// - C-style escapes: `\x1b` (exactly two hex digits), `\r`, `\n`, `\t`, `\0`, `\e` (ESC), `\a`, `\b`, `\f`,
///   `\v`, `\\`, `\"`, `\'`. Any other character after a backslash is an error, never passed through silently.
/// - `hex:1b 2a` — hex digit pairs; spaces, `:` and `-` between pairs are ignored.
public enum ByteEscapes {
    /// Parses command text with escapes, or `hex:` digits.
    /// - Throws: ``FramingError`` (`invalidEscape`, `invalidHex`) naming the offending position.
    public static func parse(_ text: String) throws(FramingError) -> [UInt8] {
        if text.hasPrefix("hex:") { return try parseHex(String(text.dropFirst(4))) }
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                continue
            }
            guard index < bytes.count else {
                throw FramingError(.invalidEscape, detail: "trailing backslash at offset \(index - 1) in '\(text)'")
            }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "x"):
                guard index + 1 < bytes.count + 0, index + 2 <= bytes.count,
                    let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1])
                else {
                    throw FramingError(
                        .invalidEscape, detail: "\\x needs two hex digits at offset \(index - 2) in '\(text)'")
                }
                out.append(high << 4 | low)
                index += 2
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "0"): out.append(0x00)
            case UInt8(ascii: "e"): out.append(0x1B)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "v"): out.append(0x0B)
            case UInt8(ascii: "\\"), UInt8(ascii: "\""), UInt8(ascii: "'"): out.append(escape)
            default:
                let shown = String(decoding: [escape], as: UTF8.self)
                throw FramingError(
                    .invalidEscape, detail: "unknown escape \\\(shown) at offset \(index - 2) in '\(text)'")
            }
        }
        return out
    }

    /// Parses hex digit pairs; whitespace, `:`, `-` and `_` between pairs and a leading `0x` are ignored.
    /// - Throws: ``FramingError`` with code `invalidHex`.
    public static func parseHex(_ text: String) throws(FramingError) -> [UInt8] {
        var digits: [UInt8] = []
        var body = Substring(text)
        if body.hasPrefix("0x") || body.hasPrefix("0X") { body = body.dropFirst(2) }
        for (offset, byte) in body.utf8.enumerated() {
            if let value = hexValue(byte) {
                digits.append(value)
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "\t")
            {
                guard digits.count % 2 == 0 else {
                    throw FramingError(.invalidHex, detail: "separator inside a byte at offset \(offset) in '\(text)'")
                }
            } else {
                throw FramingError(
                    .invalidHex,
                    detail:
                        "'\(String(decoding: [byte], as: UTF8.self))' at offset \(offset) is not a hex digit in '\(text)'"
                )
            }
        }
        guard digits.count % 2 == 0 else {
            throw FramingError(.invalidHex, detail: "odd number of hex digits in '\(text)'")
        }
        return stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }

    /// Renders bytes as text that is safe to print on a terminal: printable ASCII and valid, printable UTF-8
    /// stay as they are; `\r \n \t \\` and every other control or invalid byte are escaped (`\x1b`).
    /// - Parameter keepLineBreaks: keep LF and TAB as they are (for multi-line replies on a terminal); CR and
    ///   every other control byte stay escaped.
    public static func render(_ bytes: some Collection<UInt8>, keepLineBreaks: Bool = false) -> String {
        let all = Array(bytes)
        // Printable ASCII without a backslash (most commands and replies) stands as it is: one copy.
        if all.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) {
            return String(decoding: all, as: UTF8.self)
        }
        var out = ""
        out.reserveCapacity(all.count)
        var index = 0
        while index < all.count {
            let byte = all[index]
            if byte < 0x80 {
                if keepLineBreaks, byte == 0x0A || byte == 0x09 {
                    out.unicodeScalars.append(Unicode.Scalar(byte))
                } else {
                    appendASCII(byte, to: &out)
                }
                index += 1
                continue
            }
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            if length > 1, index + length <= all.count,
                let text = String(validating: all[index..<(index + length)], as: UTF8.self),
                let scalar = text.unicodeScalars.first,
                scalar.value >= 0xA0,
                scalar.properties.generalCategory != .format, scalar.properties.generalCategory != .control
            {
                out.unicodeScalars.append(scalar)
                index += length
            } else {
                appendHex(byte, to: &out)
                index += 1
            }
        }
        return out
    }

    private static func appendASCII(_ byte: UInt8, to out: inout String) {
        switch byte {
        case 0x0D: out += "\\r"
        case 0x0A: out += "\\n"
        case 0x09: out += "\\t"
        case UInt8(ascii: "\\"): out += "\\\\"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(byte))
        default: appendHex(byte, to: &out)
        }
    }

    private static func appendHex(_ byte: UInt8, to out: inout String) {
        let digits = Array("0123456789abcdef".utf8)
        out += "\\x"
        out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
        out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
    }

    /// Lower-case hex digits, no separators (`1b50`).
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A `hexdump -C` style dump: offset, 16 hex bytes, and the printable ASCII column.
    public static func hexdump(_ bytes: some Collection<UInt8>) -> String {
        let all = Array(bytes)
        var lines: [String] = []
        var offset = 0
        while offset < all.count {
            let row = all[offset..<min(offset + 16, all.count)]
            var hexPart = ""
            for (index, byte) in row.enumerated() {
                hexPart += hex([byte]) + (index == 7 ? "  " : " ")
            }
            let padding = String(repeating: " ", count: max(0, 49 - hexPart.count))
            let ascii = String(decoding: row.map { (0x20..<0x7F).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
            let offsetText = hex([
                UInt8(truncatingIfNeeded: offset >> 24), UInt8(truncatingIfNeeded: offset >> 16),
                UInt8(truncatingIfNeeded: offset >> 8), UInt8(truncatingIfNeeded: offset),
            ])
            lines.append("\(offsetText)  \(hexPart)\(padding)|\(ascii)|")
            offset += 16
        }
        return lines.joined(separator: "\n")
    }

    /// Removes leading and trailing ASCII whitespace (space, `\t \n \v \f \r`), as Python's `bytes.strip()` does.
    public static func trimmingWhitespace(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return bytes[bytes.endIndex...] }
        let last = bytes.lastIndex(where: { !isSpace($0) })!  // a non-space byte exists: `first` found one
        return bytes[first...last]
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
