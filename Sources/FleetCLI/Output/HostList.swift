/// Folds host names into ranges, as `dshbak -c` and ClusterShell do: `dev001 dev002 dev003 dev007` becomes
/// `dev[001-003,007]`. Names are grouped by the text around their last run of digits; numbers keep their
/// zero padding, and only names of the same width fold together.
enum HostList {
    static func fold(_ names: [String]) -> String {
        struct Key: Hashable {
            var prefix: Substring
            var suffix: Substring
            var width: Int
        }
        var groups: [Key: [Int]] = [:]
        var order: [Key] = []
        var plain: [String] = []
        for name in names {
            guard let end = name.lastIndex(where: \.isASCIIDigit) else {
                plain.append(name)
                continue
            }
            var start = end
            while start > name.startIndex, name[name.index(before: start)].isASCIIDigit {
                start = name.index(before: start)
            }
            let digits = name[start...end]
            guard digits.count <= 18, let number = Int(digits) else {
                plain.append(name)
                continue
            }
            let key = Key(prefix: name[..<start], suffix: name[name.index(after: end)...], width: digits.count)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(number)
        }
        var parts: [String] = []
        for key in order {
            let numbers = Array(Set(groups[key]!)).sorted()  // every key in order has a group
            func padded(_ value: Int) -> String {
                let text = String(value)
                return String(repeating: "0", count: max(0, key.width - text.count)) + text
            }
            if numbers.count == 1 {
                parts.append("\(key.prefix)\(padded(numbers[0]))\(key.suffix)")
                continue
            }
            var ranges: [String] = []
            var low = numbers[0]
            var high = low
            for number in numbers.dropFirst() {
                if number == high + 1 {
                    high = number
                } else {
                    ranges.append(low == high ? padded(low) : "\(padded(low))-\(padded(high))")
                    (low, high) = (number, number)
                }
            }
            ranges.append(low == high ? padded(low) : "\(padded(low))-\(padded(high))")
            parts.append("\(key.prefix)[\(ranges.joined(separator: ","))]\(key.suffix)")
        }
        return (parts + plain).joined(separator: ",")
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
