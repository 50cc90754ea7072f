/// Ansible host ranges: `dev[01:50]` (zero padding kept), `rack[a:f]`, strides `node[0:10:2]`, several per name.
enum HostRange {
    /// The names `pattern` stands for, or a message saying what is wrong with it.
    static func expand(_ pattern: String) -> Result<[String], ProblemText> {
        guard let open = pattern.firstIndex(of: "[") else { return .success([pattern]) }
        guard let close = pattern[open...].firstIndex(of: "]") else {
            return .failure(ProblemText("unclosed '[' in '\(pattern)'"))
        }
        let head = String(pattern[..<open])
        let body = pattern[pattern.index(after: open)..<close]
        let tail = String(pattern[pattern.index(after: close)...])
        let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3 else {
            return .failure(ProblemText("range '[\(body)]' must be [start:end] or [start:end:stride]"))
        }
        var stride = 1
        if parts.count == 3 {
            guard let value = Int(parts[2]), value > 0 else {
                return .failure(ProblemText("stride in '[\(body)]' must be a positive number"))
            }
            stride = value
        }
        var items: [String] = []
        if let low = Int(parts[0]), let high = Int(parts[1]) {
            guard low <= high else { return .failure(ProblemText("range '[\(body)]' runs backwards")) }
            guard (high - low) / stride < 1_000_000 else {
                return .failure(ProblemText("range '[\(body)]' is too large"))
            }
            let width = parts[0].hasPrefix("0") && parts[0].count > 1 ? parts[0].count : 0
            for value in Swift.stride(from: low, through: high, by: stride) {
                let text = String(value)
                items.append(String(repeating: "0", count: max(0, width - text.count)) + text)
            }
        } else if parts[0].count == 1, parts[1].count == 1, let low = parts[0].unicodeScalars.first,
            let high = parts[1].unicodeScalars.first, low.properties.isASCIIHexDigit || low.properties.isAlphabetic,
            low.isASCII, high.isASCII
        {
            guard low.value <= high.value else { return .failure(ProblemText("range '[\(body)]' runs backwards")) }
            for value in Swift.stride(from: low.value, through: high.value, by: stride) {
                items.append(String(Character(Unicode.Scalar(value)!)))  // ASCII range
            }
        } else {
            return .failure(ProblemText("range '[\(body)]' must be numbers ([01:50]) or single letters ([a:f])"))
        }
        switch expand(tail) {
        case .failure(let problem): return .failure(problem)
        case .success(let tails):
            return .success(items.flatMap { item in tails.map { head + item + $0 } })
        }
    }
}

/// A problem's text, as the failure of a parsing step.
struct ProblemText: Error {
    let text: String
    init(_ text: String) { self.text = text }
}
