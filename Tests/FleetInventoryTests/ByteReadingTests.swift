import Testing

@testable import FleetInventory

/// The readings decided on bytes for the common entries give what the general readings give.
@Suite struct ByteReadingTests {
    /// Entries near every rule of the byte reading: octets at and over 255, leading zeros, too many digits, labels
    /// ending in `-` or `_`, empty labels, ports, several colons, ranges.
    static let addresses = [
        "10.0.0.7", "10.0.0.7:9100", "255.255.255.255", "256.1.1.1", "249.1.1.1", "250.0.0.1:1", "199.1.1.1",
        "099.1.1.1", "300.1.1.1:80", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4:",
        "1.2.3.4:x", "11111111111111111111111111.1.1.1", "1.2.3.99999999999999999999999:80", "printer-3.lab:9100",
        "a-b.c", "-a", "a-", "a_", "_a", "a..b", "a.b.", "x", "X_1", "host:80:90", "[::1]:80", "::1", "dev[01:20]",
        "dev[a:c].lab:7", "", ":", ":80", "a:080", "a:99999999999999999999999", "é.lab", "a b",
    ]

    @Test func theByteReadingOfAnAddressIsTheScalarReading() {
        var corpus = Self.addresses
        var generator = SplitMix(seed: 7)
        let alphabet = Array("0123456789.:-_ab2559".utf8)
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 14)
            corpus.append(
                String(
                    decoding: (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] },
                    as: UTF8.self))
        }
        var decided = 0
        for address in corpus {
            guard let plain = HostAddress.parsePlainASCII(address) else { continue }
            decided += 1
            guard case .success(let general) = HostAddress.parseScalars(address, allowRanges: true) else {
                Issue.record("\(address): the byte reading accepts what the general one refuses")
                continue
            }
            #expect(plain.host == general.host && plain.port == general.port, "\(address)")
        }
        #expect(decided > 1_000)  // the byte reading decided a good share, not nothing
    }

    /// Whatever the byte reading of a line accepts is the one word the general reading makes of it.
    @Test func theByteReadingOfALineIsTheGeneralReading() {
        var corpus: [Substring] = [
            "10.0.0.7:9100", "  printer-3.lab  ", "\tdev[01:20]\r", "# comment", "; comment", "[group]", "a b",
            "a#b", "a'b", "\u{0B}x\u{0C}", "", "   ", "é", "a=b", "[a", "a]",
        ]
        var generator = SplitMix(seed: 11)
        let alphabet = Array(" \t\r\u{0B}#;[]:.-_a1'\"\\=é".unicodeScalars)
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 10)
            var line = String.UnicodeScalarView()
            for _ in 0..<length { line.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
            corpus.append(Substring(String(line)))
        }
        var decided = 0
        for line in corpus {
            guard let word = INIInventoryReader.plainWord(line) else { continue }
            decided += 1
            let stripped = line.stripping(" \t\r\n\u{0B}\u{0C}")
            #expect(!stripped.hasPrefix("#") && !stripped.hasPrefix(";") && !stripped.hasPrefix("["))
            guard case .success(let words) = ShellWords.split(stripped) else {
                Issue.record("\(line.debugDescription): not one shell word")
                continue
            }
            #expect(words == [word], "\(line.debugDescription)")
        }
        #expect(decided > 1_000)
    }
}

/// A small seeded generator, so that a failure repeats.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
