/// Parsing and printing of the durations fleetcmd reads everywhere: `500ms`, `3s`, `2m`, `1h`, `1.5s`, `250us`.
/// A bare number means seconds.
public enum DurationText {
    /// - Throws: ``FramingError`` with code `invalidDuration`.
    public static func parse(_ text: String) throws(FramingError) -> Duration {
        let trimmed = text.trimmingASCIISpaces()
        let units: [(String, Double)] = [
            ("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600),
        ]
        var number = Substring(trimmed)
        var scale = 1.0
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            scale = factor
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale <= 1e9 else {
            throw FramingError(.invalidDuration, detail: "'\(text)' (use forms like 500ms, 3s, 2m, 1h)")
        }
        let nanoseconds = (value * scale * 1e9).rounded()
        return .nanoseconds(Int64(nanoseconds))
    }

    /// A short form of `duration`: `5s`, `500ms`, `1.5s`, `2m`, `120µs`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let total = Double(seconds) + Double(attoseconds) / 1e18
        if total >= 120, total.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(total / 60))m" }
        if total >= 1 { return trim(total) + "s" }
        if total >= 1e-3 { return trim(total * 1e3) + "ms" }
        return trim(total * 1e6) + "µs"
    }

    /// Milliseconds with up to three decimals, for machine output.
    public static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return ((Double(seconds) * 1e3 + Double(attoseconds) / 1e15) * 1000).rounded() / 1000
    }

    private static func trim(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}

/// Byte sizes: `4096`, `4KiB`, `1MiB`, `1M`, `64k`. K, M and G are binary multiples (as nginx reads them).
public enum ByteCount {
    /// - Throws: ``FramingError`` with code `invalidByteCount`.
    public static func parse(_ text: String) throws(FramingError) -> Int {
        let lower = text.trimmingASCIISpaces().lowercased()
        let units: [(String, Int)] = [
            ("kib", 1 << 10), ("mib", 1 << 20), ("gib", 1 << 30), ("kb", 1 << 10), ("mb", 1 << 20), ("gb", 1 << 30),
            ("k", 1 << 10), ("m", 1 << 20), ("g", 1 << 30), ("b", 1),
        ]
        var number = Substring(lower)
        var scale = 1
        for (suffix, factor) in units where lower.hasSuffix(suffix) {
            number = lower.dropLast(suffix.count)
            scale = factor
            break
        }
        guard let value = Int(number.trimmingASCIISpaces()), value >= 0, value <= (1 << 40) / scale else {
            throw FramingError(.invalidByteCount, detail: "'\(text)' (use forms like 4096, 4KiB, 1MiB)")
        }
        return value * scale
    }

    /// `1 MiB`, `4 KiB`, `100 bytes`.
    public static func format(_ count: Int) -> String {
        if count >= 1 << 20, count % (1 << 20) == 0 { return "\(count >> 20) MiB" }
        if count >= 1 << 10, count % (1 << 10) == 0 { return "\(count >> 10) KiB" }
        return count == 1 ? "1 byte" : "\(count) bytes"
    }
}

extension StringProtocol {
    func trimmingASCIISpaces() -> String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
