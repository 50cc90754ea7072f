import Testing

@testable import FleetCLI

/// A `^literal` pattern is matched without the regex engine, with the regex's answer.
@Suite struct ErrorPatternTests {
    static let replies = [
        "ERR", "ERR 12 paper out", "ERRx", "err", "OK", "", " ERR", "\nERR", "OK\nERR", "ERR\u{301}", "ERR\u{301} x",
        "E\u{301}RR", "ERR\r\n", "ÉRR", "ERROR", "\\x1bERR", "ERR\\x00", "FAULT 3", "FAULT_3", "FAULT", "fault 3",
        "🙂ERR", "ERR🙂", "E", "Ｅrr",
    ]

    @Test(arguments: ["^ERR", "^FAULT 3", "^FAULT_3", "^E", "^err", "^ERROR"])
    func aLiteralPrefixAnswersAsTheRegex(pattern: String) throws {
        let fast = try ErrorPattern(pattern)
        #expect(fast.literalPrefix == String(pattern.dropFirst()))
        #expect(fast.regex == nil)  // not compiled
        let regex = try Regex(pattern)
        for reply in Self.replies {
            let viaRegex = (try regex.firstMatch(in: reply)) != nil
            #expect(fast.matches(reply) == viaRegex, "\(pattern) on \(reply.debugDescription)")
        }
    }

    @Test(arguments: ["ERR", "^ERR|FAULT", "^ERR.", "^E+", "^(ERR)", "^ERR$", "^\\x45RR", "^", "^ÉRR", "(?i)^err"])
    func anyOtherPatternGoesToTheRegex(pattern: String) throws {
        let slow = try ErrorPattern(pattern)
        #expect(slow.literalPrefix == nil)
        let regex = try #require(slow.regex)
        for reply in Self.replies {
            #expect(slow.matches(reply) == ((try regex.firstMatch(in: reply)) != nil))
        }
    }

    @Test func anInvalidPatternThrows() {
        #expect(throws: (any Error).self) { try ErrorPattern("^ERR(") }
    }
}
