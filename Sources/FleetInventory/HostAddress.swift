import Foundation

/// Host names, ports and ranges as Ansible reads them (`parse_address`, `expand_hostname_range`).
///
/// ```
/// "db[01:03].lab:2222"  ->  db01.lab, db02.lab, db03.lab   (port 2222)
/// "[::1]:9100"          ->  ::1                           (port 9100)
/// "rack[y:B]"           ->  racky, rackz, rackA, rackB     (Python's ascii_letters order)
/// ```
enum HostAddress {
    /// What is wrong with a host name or range, in Ansible's words where it has some.
    struct Problem: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    /// `parse_address(address, allow_ranges)`: the host and port, or a problem when it is not a host identifier.
    static func parse(_ address: String, allowRanges: Bool) -> Result<(host: String, port: Int?), Problem> {
        if let plain = parsePlainASCII(address) { return .success(plain) }
        return parseScalars(address, allowRanges: allowRanges)
    }

    /// ``parse(_:allowRanges:)`` for any text, on its Unicode scalars (a test holds the byte reading against it).
    static func parseScalars(_ address: String, allowRanges: Bool) -> Result<(host: String, port: Int?), Problem> {
        var address = Array(address.unicodeScalars)
        var port: Int?
        // [host]:port, then host:port (both tried in turn, as Ansible's loop does).
        if address.first == "[", let close = address.lastIndex(of: "]"), close > 1, close + 1 < address.count,
            address[close + 1] == ":", Self.allDigits(address[(close + 2)...])
        {
            port = Int(String(String.UnicodeScalarView(address[(close + 2)...])))
            address = Array(address[1..<close])
        }
        if let split = hostPortSplit(address) {
            port = Int(String(String.UnicodeScalarView(address[(split + 1)...])))
            address = Array(address[..<split])
        }
        let host = String(String.UnicodeScalarView(address))
        guard isIPv4(address) || (address.contains(":") && isIPv6(host)) || isHostname(address) else {
            return .failure(Problem("Not a valid network hostname: \(host)"))
        }
        if !allowRanges, address.contains("[") {
            return .failure(Problem("Detected range in host but was asked to ignore ranges"))
        }
        return .success((host, port))
    }

    /// The common entry decided on its bytes (`10.0.0.7:9100`, `printer-3.lab:9100`): ASCII, no range, at most one
    /// colon and then only digits, a host that is an IPv4 address or a host name. The same answer as the general
    /// reading below (which makes arrays of scalars, a third of a large inventory's load time); `nil` for anything
    /// else, which that reading decides.
    static func parsePlainASCII(_ address: String) -> (host: String, port: Int?)? {
        var address = address
        return address.withUTF8 { bytes -> (host: String, port: Int?)? in  // a native string: its own bytes
            var colon: Int?
            for (index, byte) in bytes.enumerated() {
                switch byte {
                case UInt8(ascii: ":"):
                    if colon != nil { return nil }
                    colon = index
                case UInt8(ascii: "["), UInt8(ascii: "]"), 0x80...: return nil
                default: break
                }
            }
            var port: Int?
            var hostEnd = bytes.count
            if let colon {
                let digits = bytes[(colon + 1)...]
                guard !digits.isEmpty, digits.allSatisfy(isDigitByte) else { return nil }
                port = Int(String(decoding: digits, as: UTF8.self))
                hostEnd = colon
            }
            let host = bytes[..<hostEnd]
            // No separate IPv4 check: a plain IPv4 address (digit labels) is a plain host name too, with the same text.
            guard isPlainHostname(host) else { return nil }
            return (String(decoding: host, as: UTF8.self), port)
        }
    }

    private static func isDigitByte(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    /// ``isHostname(_:)`` for ASCII without ranges: labels of letters, digits, `_` and `-` (not first), none empty,
    /// none ending in `_` or `-`.
    private static func isPlainHostname(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
        guard !bytes.isEmpty else { return false }
        var labelStart = true
        var last = UInt8(ascii: ".")
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if labelStart || last == UInt8(ascii: "_") || last == UInt8(ascii: "-") { return false }
                labelStart = true
            } else if isWordByte(byte) || (!labelStart && byte == UInt8(ascii: "-")) {
                labelStart = false
            } else {
                return false
            }
            last = byte
        }
        return !labelStart && last != UInt8(ascii: "_") && last != UInt8(ascii: "-")
    }

    private static func isWordByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"):
            return true
        default: return false
        }
    }

    /// `_expand_hostpattern`: the names a host entry stands for and its port (none when it is not an address).
    static func expand(_ pattern: String) -> Result<(names: [String], port: Int?), Problem> {
        // Without a colon or a bracket there is no port and no range: the entry is its one name, whether or not
        // `parse` accepts it (most entries of a large inventory).
        if !pattern.utf8.contains(where: { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "[") }) {
            return .success(([pattern], nil))
        }
        var name = pattern
        var port: Int?
        if case .success(let parsed) = parse(pattern, allowRanges: true) {
            name = parsed.host
            port = parsed.port
        }
        guard name.unicodeScalars.contains("[") else { return .success(([name], port)) }
        var names: [String] = []
        if let problem = expandRange(name, into: &names) { return .failure(problem) }
        return .success((names, port))
    }

    /// Hosts one entry may stand for at most; Ansible has no limit, fleetcmd refuses rather than exhaust memory.
    /// `$FLEETCMD_MAX_HOSTS_PER_ENTRY` lowers or raises it (the fuzzer runs with a small one, so that valid but huge
    /// entries do not read as hangs). Default: 10,000,000.
    static let maxExpansion: Int = {
        guard let text = getenv("FLEETCMD_MAX_HOSTS_PER_ENTRY"), let value = Int(String(cString: text)), value > 0
        else { return 10_000_000 }
        return value
    }()

    /// The first `[…]` range of a host pattern: what stands before and after it, and the items it stands for.
    private struct FirstRange {
        enum Items {
            case letters(low: Int, high: Int, step: Int)
            case numbers(low: Int, high: Int, step: Int, width: Int)
        }

        var head: String
        var tail: String
        var items: Items

        /// How many items, without making them (Python's slice and range lengths).
        var count: Int {
            switch items {
            case .letters(let low, let high, let step): return step > 0 ? (high - low) / step + 1 : 0
            case .numbers(let low, let high, let step, _):
                let span =
                    step > 0 ? high.subtractingReportingOverflow(low) : low.subtractingReportingOverflow(high + 2)
                guard !span.overflow else { return Int.max }
                if step > 0 { return low <= high ? span.partialValue / step + 1 : 0 }
                return low > high + 1 ? span.partialValue / -step + 1 : 0
            }
        }

        func forEachItem(_ body: (String) -> Void) {
            switch items {
            case .letters(let low, let high, let step):
                guard step > 0 else { return }
                for index in stride(from: low, through: high, by: step) {
                    body(String(Character(HostAddress.asciiLetters[index])))
                }
            case .numbers(let low, let high, let step, let width):
                for value in stride(from: low, to: high + 1, by: step) {
                    body(HostAddress.zeroFilled(value, width: width))
                }
            }
        }
    }

    /// `expand_hostname_range`'s reading of the first range in `line`.
    private static func firstRange(_ line: String) -> Result<FirstRange, Problem> {
        let scalars = Array(line.unicodeScalars)
        guard let open = scalars.firstIndex(of: "["), let close = scalars.firstIndex(of: "]"), open < close,
            !scalars.contains("|")
        else {
            return .failure(Problem("host range in '\(line)' must be written [begin:end] or [begin:end:step]"))
        }
        let head = String(String.UnicodeScalarView(scalars[..<open]))
        let body = String(String.UnicodeScalarView(scalars[(open + 1)..<close]))
        let tail = String(String.UnicodeScalarView(scalars[(close + 1)...]))
        let bounds = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard bounds.count == 2 || bounds.count == 3 else {
            return .failure(Problem("host range must be begin:end or begin:end:step ('\(line)')"))
        }
        let begin = bounds[0].isEmpty ? "0" : bounds[0]
        let end = bounds[1]
        guard !end.isEmpty else { return .failure(Problem("host range must specify end value ('\(line)')")) }
        let stepText = bounds.count == 3 ? bounds[2] : "1"
        var width = 0
        if begin.hasPrefix("0"), begin.count > 1 {
            width = begin.count
            guard width == end.count else {
                return .failure(Problem("host range must specify equal-length begin and end formats ('\(line)')"))
            }
        }
        if let low = letterIndex(begin), let high = letterIndex(end), let step = Int(stepText), step != 0 {
            guard low <= high else { return .failure(Problem("host range must have begin <= end ('\(line)')")) }
            return .success(FirstRange(head: head, tail: tail, items: .letters(low: low, high: high, step: step)))
        }
        guard let low = Int(begin), let high = Int(end), let step = Int(stepText), high < Int.max - 1 else {
            return .failure(
                Problem("host range '[\(body)]' must be numbers ([01:50]) or letters ([a:f]) ('\(line)')"))
        }
        guard step != 0, step != Int.min else {
            return .failure(Problem("host range step must not be zero ('\(line)')"))
        }
        return .success(
            FirstRange(head: head, tail: tail, items: .numbers(low: low, high: high, step: step, width: width)))
    }

    /// How many names `line` stands for (every range multiplied), checked before any name is made, so that a short
    /// line standing for billions is refused at once.
    private static func expansionCount(_ line: String) -> Result<Int, Problem> {
        guard line.unicodeScalars.contains("[") else { return .success(1) }
        let range: FirstRange
        switch firstRange(line) {
        case .success(let value): range = value
        case .failure(let problem): return .failure(problem)
        }
        let count = range.count
        guard count > 0 else { return .success(0) }  // Python never looks at the rest then
        guard count <= maxExpansion else {
            return .failure(Problem("'\(line)' stands for more than \(maxExpansion) hosts"))
        }
        switch expansionCount(range.tail) {
        case .failure(let problem): return .failure(problem)
        case .success(let rest):
            let (total, overflow) = count.multipliedReportingOverflow(by: rest)
            guard !overflow, total <= maxExpansion else {
                return .failure(Problem("'\(line)' stands for more than \(maxExpansion) hosts"))
            }
            return .success(total)
        }
    }

    /// `expand_hostname_range`, appending to `names`.
    static func expandRange(_ line: String, into names: inout [String]) -> Problem? {
        let total: Int
        switch expansionCount(line) {
        case .success(let value): total = value
        case .failure(let problem):
            // Name the whole entry, not the part of it where the count ran over.
            if problem.text.hasSuffix("stands for more than \(maxExpansion) hosts") {
                return Problem("'\(line)' stands for more than \(maxExpansion) hosts")
            }
            return problem
        }
        guard names.count <= maxExpansion - total else {
            return Problem("'\(line)' stands for more than \(maxExpansion) hosts")
        }
        names.reserveCapacity(names.count + total)
        append(line, into: &names)
        return nil
    }

    /// Makes the names of a line whose count was checked. What follows the first range expands the same after every
    /// item (the item and the head hold no '['), so it is made once: the same names as Python's expansion of each
    /// name in turn.
    private static func append(_ line: String, into names: inout [String]) {
        guard line.unicodeScalars.contains("["), case .success(let range) = firstRange(line) else {
            names.append(line)
            return
        }
        guard range.count > 0 else { return }
        var tails: [String] = []
        append(range.tail, into: &tails)
        range.forEachItem { item in
            let prefix = range.head + item
            for rest in tails { names.append(prefix + rest) }
        }
    }

    /// Python's `string.ascii_letters`.
    static let asciiLetters: [Unicode.Scalar] = Array(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".unicodeScalars)

    /// `ascii_letters.index(text)`: where `text` first stands in the letters (a substring search, as Python's).
    static func letterIndex(_ text: String) -> Int? {
        let needle = Array(text.unicodeScalars)
        guard !needle.isEmpty, needle.count <= asciiLetters.count else { return nil }
        for start in 0...(asciiLetters.count - needle.count)
        where asciiLetters[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    /// Python's `str(x).zfill(width)`.
    static func zeroFilled(_ value: Int, width: Int) -> String {
        let digits = String(value.magnitude)
        let sign = value < 0 ? "-" : ""
        let padding = max(0, width - sign.count - digits.count)
        return sign + String(repeating: "0", count: padding) + digits
    }

    /// Where `host:port` splits: the prefix is plain characters and whole `[...]` groups, then `:digits` to the end.
    private static func hostPortSplit(_ scalars: [Unicode.Scalar]) -> Int? {
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "[" {
                guard let close = scalars[index...].firstIndex(of: "]") else { return nil }
                index = close + 1
            } else if scalar == ":" || scalar == "]" {
                break
            } else {
                index += 1
            }
        }
        guard index < scalars.count, scalars[index] == ":", allDigits(scalars[(index + 1)...]) else { return nil }
        return index
    }

    private static func allDigits(_ scalars: ArraySlice<Unicode.Scalar>) -> Bool {
        !scalars.isEmpty && scalars.allSatisfy { ("0"..."9").contains($0) }
    }

    private static func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }

    /// Python's `\w` in a Unicode pattern: letters, digits and the underscore.
    private static func isWord(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            return isDigit(scalar) || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
        }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    /// Length of a range at `index` (`[0:9]`, `[a:f]`, with `:step`), or nil. `numericOnly` for IPv4 parts.
    private static func rangeLength(_ scalars: [Unicode.Scalar], at index: Int, numericOnly: Bool) -> Int? {
        guard index < scalars.count, scalars[index] == "[",
            let close = scalars[index...].firstIndex(of: "]")
        else { return nil }
        let parts = scalars[(index + 1)..<close].split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        if parts.count == 3, !allDigits(parts[2]) { return nil }
        let numeric = allDigits(parts[0]) && allDigits(parts[1])
        let letter = { (part: ArraySlice<Unicode.Scalar>) -> Bool in
            part.count == 1 && (("a"..."z").contains(part.first!) || ("A"..."Z").contains(part.first!))
        }
        guard numeric || (!numericOnly && letter(parts[0]) && letter(parts[1])) else { return nil }
        return close - index + 1
    }

    /// The `ipv4` pattern: four parts 0–255 (as Ansible's regex counts them), any of which may be a numeric range.
    private static func isIPv4(_ scalars: [Unicode.Scalar]) -> Bool {
        let parts = scalars.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            let array = Array(part)
            if let length = rangeLength(array, at: 0, numericOnly: true), length == array.count { continue }
            guard (1...3).contains(array.count), array.allSatisfy(isDigit) else { return false }
            if array.count == 3 {
                let text = String(String.UnicodeScalarView(array))
                let ok = array[0] == "0" || array[0] == "1" || (array[0] == "2" && Int(text)! <= 255)  // digits
                if !ok { return false }
            }
        }
        return true
    }

    /// The `hostname` pattern: dot-separated labels of word characters, `-` and ranges, not ending in `_` or `-`.
    private static func isHostname(_ scalars: [Unicode.Scalar]) -> Bool {
        guard !scalars.isEmpty else { return false }
        var index = 0
        var labelStart = true
        var last: Unicode.Scalar = "."
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "." {
                if labelStart || last == "_" || last == "-" { return false }
                labelStart = true
                last = "."
                index += 1
                continue
            }
            if scalar == "[" {
                guard let length = rangeLength(scalars, at: index, numericOnly: false) else { return false }
                index += length
                last = "]"
                labelStart = false
                continue
            }
            if isWord(scalar) || (!labelStart && scalar == "-") {
                last = scalar
                labelStart = false
                index += 1
                continue
            }
            return false
        }
        return !labelStart && last != "_" && last != "-"
    }

    /// The `ipv6` pattern (compressed forms, embedded IPv4, hexadecimal ranges), used only for text with a colon.
    private static func isIPv6(_ text: String) -> Bool { (try? ipv6Pattern?.wholeMatch(in: text)) != nil }

    // Compiled once; a Regex is immutable and matching does not mutate it.
    nonisolated(unsafe) private static let ipv6Pattern: Regex<AnyRegexOutput>? = {
        let group = #"(?:[0-9a-f]{1,4}|\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\])"#
        let alternatives = [
            "(?:\(group):){7}\(group)", "(?:\(group):){1,6}:", "(?:\(group):)(?::\(group)){1,6}",
            "(?:\(group):){2}(?::\(group)){1,5}", "(?:\(group):){3}(?::\(group)){1,4}",
            "(?:\(group):){4}(?::\(group)){1,3}", "(?:\(group):){5}(?::\(group)){1,2}",
            "(?:\(group):){6}(?::\(group))", ":(?::\(group)){1,6}", "\(group)?::",
            "(?:0:){6}(?:\(group)\\.){3}\(group)", "::(?:ffff:)?(?:\(group)\\.){3}\(group)",
            "(?:0:){5}ffff:(?:\(group)\\.){3}\(group)",
        ]
        return try? Regex("(?:" + alternatives.joined(separator: "|") + ")").ignoresCase()
    }()
}
