/// `--error-pattern`, shared by the runner's tasks.
struct ErrorPattern: @unchecked Sendable {  // a Regex is an immutable value; matching does not mutate it
    /// The compiled pattern; `nil` when ``literalPrefix`` answers.
    let regex: Regex<AnyRegexOutput>?
    /// What a reply must begin with, when the pattern is `^` and then only ASCII letters, digits, spaces and `_`
    /// (the default `^ERR`, and most patterns users write): matched without the regex engine, which costs more
    /// per reply than the rest of a device's bookkeeping, and not compiled either (parsing `^ERR` was a twelfth of
    /// a one-shot `send`). The same answer as the regex (a test holds them side by side): `^` anchors at the
    /// reply's start, and both compare whole characters. Such a pattern is always a valid regex.
    let literalPrefix: String?

    /// Compiles `pattern`; throws what `Regex` throws for an invalid one.
    init(_ pattern: String) throws {
        literalPrefix = Self.literalPrefix(of: pattern)
        regex = literalPrefix == nil ? try Regex(pattern) : nil
    }

    func matches(_ reply: String) -> Bool {
        if let literalPrefix { return reply.hasPrefix(literalPrefix) }
        return regex.map { (try? $0.firstMatch(in: reply)) != nil } ?? false
    }

    /// The literal after `^`, or nil when the pattern is anything else.
    static func literalPrefix(of pattern: String) -> String? {
        let bytes = Array(pattern.utf8)
        guard bytes.count > 1, bytes[0] == UInt8(ascii: "^") else { return nil }
        let literal = bytes[1...]
        let plain = literal.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: " "), UInt8(ascii: "_"):
                return true
            default: return false
            }
        }
        return plain ? String(decoding: literal, as: UTF8.self) : nil
    }
}
