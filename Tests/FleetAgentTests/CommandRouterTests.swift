import FleetFraming
import NIOCore
import Testing

@testable import FleetAgent

@Suite struct CommandRouterTests {
    @Test func exactPrefixAndPatternRoutesMatchWithCaptures() throws {
        var router = CommandRouter()
        router.on("PING", reply: "PONG")
        router.on(prefix: "SET TEMP", reply: "OK {1}")
        try router.on(pattern: #"^GET (\w+)$"#, reply: "{1}=42")
        #expect(router.match("PING")?.route.name == "PING")
        #expect(router.match("SET TEMP 21")?.arguments == ["21"])
        #expect(router.match("SET TEMP")?.arguments == [])
        #expect(router.match("SET TEMPERATURE 21") == nil)
        #expect(router.match("GET volume")?.arguments == ["volume"])
        #expect(router.match("GET two words") == nil)
        #expect(router.match("ping") == nil)
    }

    @Test func exactRoutesWinAndOthersGoInOrder() throws {
        var router = CommandRouter()
        router.on(prefix: "A", reply: "prefix")
        try router.on(pattern: "A.*", reply: "pattern")
        router.on("A B", reply: "exact")
        guard case .reply(let first) = router.match("A B")?.route.action else { Issue.record("no match"); return }
        #expect(first == "exact")
        guard case .reply(let second) = router.match("A C")?.route.action else { Issue.record("no match"); return }
        #expect(second == "prefix")
    }

    /// Exact names are found as a dictionary keyed by `String` finds them (Unicode canonical equivalence included:
    /// the Kelvin sign equals `K`, a decomposed `é` the composed one), whether every name is short ASCII (the byte
    /// comparison) or not; a name added again answers with its later route.
    @Test(arguments: [false, true])
    func exactNamesAreFoundAsByADictionary(withANonASCIIName: Bool) {
        var names = [
            "PING", "STATUS", "K", "HELP", "PONG", "A B", String(repeating: "L", count: 31),
            String(repeating: "L", count: 32), "", "PING",
        ]
        // With a name that is not ASCII, an ASCII command can equal it: `KELVIN` is the name below.
        if withANonASCIIName { names += ["caf\u{E9}", "\u{212A}ELVIN"] }
        var router = CommandRouter()
        var expected: [String: String] = [:]
        for (number, name) in names.enumerated() {
            router.on(name, reply: "\(number)")
            expected[name] = "\(number)"
        }
        let queries =
            names + [
                "\u{212A}", "k", "PIN", "PINGS", "ping", "cafe\u{301}", "caf\u{E9}", "CAF\u{C9}", " PING",
                String(repeating: "L", count: 33), "A  B", "\u{212A}ELP", "KELVIN",
            ]
        for query in queries {
            var answer: String?
            if case .reply(let template) = router.match(query)?.route.action { answer = template }
            #expect(answer == expected[query], "\(query.unicodeScalars.map { String($0.value, radix: 16) })")
        }
    }

    @Test func invalidPatternIsRejected() {
        var router = CommandRouter()
        #expect(throws: (any Error).self) { try router.on(pattern: "(", reply: "x") }
    }

    @Test func placeholdersAreSubstitutedAndUnknownOnesKept() {
        #expect("OK {1} {2} {x}".substituting(["1": "a", "2": "b c"]) == "OK a b c {x}")
        #expect("{device}/{index}".substituting(["device": "d1", "index": "7"]) == "d1/7")
        #expect("no braces".substituting([:]) == "no braces")
        #expect("broken {1".substituting(["1": "x"]) == "broken {1")
    }

    @Test func builtinsAreAllPresent() {
        let names = CommandRouter.builtins.names
        for builtin in Builtin.allCases { #expect(names.contains { $0.hasPrefix(builtin.rawValue) }) }
    }

    @Test func commandTextValidationRejectsControlAndInvalidUTF8() {
        func text(_ bytes: [UInt8]) -> String? { AgentCommand(frame: ByteBuffer(bytes: bytes)).text }
        #expect(text(Array("SET A\tB".utf8)) == "SET A\tB")
        #expect(text([0x41, 0x00]) == nil)
        #expect(text([0x41, 0xFF]) == nil)
        #expect(text([0x1B]) == nil)
        #expect(text([0xC3, 0xA9]) == "é")
        #expect(text([0x41, 0x7F]) == nil)  // DEL, in the ASCII range
        #expect(text([0x41, 0xC3]) == nil)  // a sequence cut short
        #expect(text([0xED, 0xA0, 0x80]) == nil)  // an encoded surrogate
        #expect(text([]) == "")
    }

    @Test func commandBytesDropOneTrailingCarriageReturn() {
        func bytes(_ value: [UInt8]) -> [UInt8] { AgentCommand(frame: ByteBuffer(bytes: value)).bytes }
        #expect(bytes(Array("STATUS\r".utf8)) == Array("STATUS".utf8))
        #expect(bytes(Array("STATUS".utf8)) == Array("STATUS".utf8))
        #expect(bytes(Array("A\r\r".utf8)) == Array("A\r".utf8))
        #expect(bytes([0x0D]) == [])
        #expect(bytes([]) == [])
        var sliced = ByteBuffer(bytes: Array("xxPING\r".utf8))
        sliced.moveReaderIndex(forwardBy: 2)
        #expect(AgentCommand(frame: sliced).bytes == Array("PING".utf8))
        #expect(AgentCommand(frame: sliced).text == "PING")
    }

    /// The audit line shows a command escaped for display, at most 64 bytes and then `…`: plain ASCII as it
    /// stands (without a copy), everything else as `ByteEscapes.render` shows it.
    @Test func auditTextIsTheEscapedCommand() {
        let cases: [[UInt8]] = [
            Array("PING".utf8), Array("SET A\tB".utf8), Array(#"PATH C:\x"#.utf8), [0x1B, 0x41], [0xC3, 0xA9],
            [0x41, 0xFF], Array(repeating: 0x41, count: 64), Array(repeating: 0x41, count: 65),
            Array(repeating: 0x1B, count: 70), Array("ECHO \"q\" a=b".utf8), [],
        ]
        for bytes in cases {
            let expected =
                bytes.count > 64 ? ByteEscapes.render(bytes.prefix(64)) + "…" : ByteEscapes.render(bytes)
            #expect(AgentCommand(frame: ByteBuffer(bytes: bytes + [0x0D])).auditText == expected, "\(bytes)")
        }
        #expect(AgentCommand(frame: ByteBuffer(bytes: Array("PING".utf8))).isPlainASCII)
        #expect(!AgentCommand(frame: ByteBuffer(bytes: Array("A\tB".utf8))).isPlainASCII)
        #expect(!AgentCommand(frame: ByteBuffer(bytes: Array(#"A\B"#.utf8))).isPlainASCII)
    }
}
