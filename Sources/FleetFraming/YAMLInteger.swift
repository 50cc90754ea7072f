/// YAML 1.1 integers (as PyYAML and Yams resolve them) read without trapping: `12`, `-3`, `1_000`, `0x1F`,
/// `0o17`, `017` (octal), `0b101`, `1:20:30` (base 60). Yams' own conversion traps on a base-60 value that
/// overflows (`5:25:27:5:5:5:5:7:5:5:5:5:5`, found by fuzzing), so user files never go through it.
public enum YAMLInteger {
    /// The value, or nil when `text` is not a YAML 1.1 integer or does not fit in an `Int`.
    public static func parse(_ text: String) -> Int? {
        var body = Substring(text)
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        guard !body.isEmpty else { return nil }
        let magnitude: Int?
        if body.contains(":") {
            magnitude = base60(body)
        } else {
            let digits = String(body.filter { $0 != "_" })
            guard !digits.isEmpty else { return nil }
            if digits.hasPrefix("0b") {
                magnitude = Int(digits.dropFirst(2), radix: 2)
            } else if digits.hasPrefix("0x") {
                magnitude = Int(digits.dropFirst(2), radix: 16)
            } else if digits.hasPrefix("0o") {
                magnitude = Int(digits.dropFirst(2), radix: 8)
            } else if digits.count > 1, digits.hasPrefix("0") {
                magnitude = Int(digits.dropFirst(), radix: 8)
            } else {
                magnitude = Int(digits, radix: 10)
            }
        }
        guard let magnitude else { return nil }
        return negative ? -magnitude : magnitude
    }

    private static func base60(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard let first = parts.first, let head = Int(first.filter { $0 != "_" }), first.first != "0" else {
            return nil
        }
        var value = head
        for part in parts.dropFirst() {
            guard (1...2).contains(part.count), let digit = Int(part), digit < 60 else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 60)
            guard !overflow else { return nil }
            let (sum, overflowed) = shifted.addingReportingOverflow(digit)
            guard !overflowed else { return nil }
            value = sum
        }
        return value
    }
}
