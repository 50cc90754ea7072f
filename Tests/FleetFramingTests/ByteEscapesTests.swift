import FleetFraming
import Testing

@Suite struct ByteEscapesTests {
    @Test(
        arguments: [
            ("PING", [0x50, 0x49, 0x4E, 0x47]),
            ("\\x1b\\r\\n\\0\\t\\\\", [0x1B, 0x0D, 0x0A, 0x00, 0x09, 0x5C]),
            ("\\e@", [0x1B, 0x40]),
            ("\\x1B\\xff", [0x1B, 0xFF]),
            ("hex:1b2a", [0x1B, 0x2A]),
            ("hex:1b 2A:00-ff", [0x1B, 0x2A, 0x00, 0xFF]),
            ("hex:", []),
            ("", []),
            ("é", [0xC3, 0xA9]),
        ] as [(String, [UInt8])])
    func parsesEscapesAndHex(_ text: String, _ expected: [UInt8]) throws {
        #expect(try ByteEscapes.parse(text) == expected)
    }

    @Test(arguments: ["\\", "\\q", "\\x1", "\\xzz", "hex:1", "hex:1g", "hex:1 b"])
    func rejectsBadInputWithAClearError(_ text: String) {
        let error = #expect(throws: FramingError.self) { try ByteEscapes.parse(text) }
        #expect(error.map { $0.code == .invalidEscape || $0.code == .invalidHex } == true)
        #expect(error?.description.contains("'") == true)
    }

    @Test func hexFlagFormAcceptsPrefixAndSeparators() throws {
        #expect(try ByteEscapes.parseHex("0x10 04 01") == [0x10, 0x04, 0x01])
        #expect(throws: FramingError.self) { try ByteEscapes.parseHex("abc") }
    }

    @Test(
        arguments: [
            ([0x50, 0x4F, 0x4E, 0x47], "PONG"),
            ([0x1B, 0x0D, 0x0A, 0x09, 0x00, 0x7F], "\\x1b\\r\\n\\t\\x00\\x7f"),
            ([0x5C], "\\\\"),
            ([0xC3, 0xA9], "é"),
            ([0xC3], "\\xc3"),
            ([0xFF, 0x41], "\\xffA"),
            ([0xC2, 0x85], "\\xc2\\x85"),
            ([0xE2, 0x80, 0x8B], "\\xe2\\x80\\x8b"),
        ] as [([UInt8], String)])
    func rendersOnlySafeCharactersRaw(_ bytes: [UInt8], _ expected: String) {
        #expect(ByteEscapes.render(bytes) == expected)
    }

    @Test func renderedTextRoundTripsThroughTheParser() throws {
        let all = (0...255).map { UInt8($0) }
        #expect(try ByteEscapes.parse(ByteEscapes.render(all)) == all)
    }

    @Test func trimsWhitespaceLikePythonBytesStrip() {
        #expect(Array(ByteEscapes.trimmingWhitespace(ArraySlice(Array(" \t OK \r\n".utf8)))) == Array("OK".utf8))
        #expect(ByteEscapes.trimmingWhitespace(ArraySlice(Array(" \r\n".utf8))).isEmpty)
        #expect(Array(ByteEscapes.trimmingWhitespace([])).isEmpty)
    }

    @Test func hexdumpLooksLikeHexdumpC() {
        let dump = ByteEscapes.hexdump(Array("PONG".utf8) + [0])
        #expect(dump == "00000000  50 4f 4e 47 00" + String(repeating: " ", count: 35) + "|PONG.|")
        #expect(ByteEscapes.hexdump(Array(repeating: 0x41, count: 17)).split(separator: "\n").count == 2)
    }
}

@Suite struct UnitsTests {
    @Test(arguments: [
        ("500ms", 0.5), ("3s", 3.0), ("2m", 120.0), ("1h", 3600.0), ("1.5s", 1.5), ("7", 7.0), ("250us", 0.00025),
    ])
    func parsesDurations(_ text: String, _ seconds: Double) throws {
        let parsed = try DurationText.parse(text)
        #expect(abs(Double(parsed.components.seconds) + Double(parsed.components.attoseconds) / 1e18 - seconds) < 1e-9)
    }

    @Test(arguments: ["", "s", "-1s", "3 parsecs", "1e30s", "nan"])
    func rejectsBadDurations(_ text: String) {
        #expect(throws: FramingError.self) { try DurationText.parse(text) }
    }

    @Test func formatsDurationsShortly() {
        #expect(DurationText.format(.seconds(5)) == "5s")
        #expect(DurationText.format(.milliseconds(500)) == "500ms")
        #expect(DurationText.format(.seconds(120)) == "2m")
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
    }

    @Test(arguments: [("4096", 4096), ("4KiB", 4096), ("1MiB", 1 << 20), ("1m", 1 << 20), ("64k", 65536)])
    func parsesSizes(_ text: String, _ expected: Int) throws {
        #expect(try ByteCount.parse(text) == expected)
    }

    @Test func formatsSizes() {
        #expect(ByteCount.format(1 << 20) == "1 MiB")
        #expect(ByteCount.format(4096) == "4 KiB")
        #expect(ByteCount.format(12) == "12 bytes")
        #expect(throws: FramingError.self) { try ByteCount.parse("lots") }
    }
}

@Suite struct RepeatedTerminatorTests {
    @Test func frameEndsAtTheNthTerminatorAcrossReads() throws {
        var scanner = FrameScanner(spec: .delimited(terminator: [0x03, 0x0D, 0x0A], count: 3))
        let blocks: [UInt8] = [
            0x02, 0x41, 0x03, 0x0D, 0x0A, 0x02, 0x42, 0x03, 0x0D, 0x0A, 0x02, 0x43, 0x03, 0x0D, 0x0A, 0x58,
        ]
        var buffer: [UInt8] = []
        var frames: [[UInt8]] = []
        for byte in blocks {  // one byte per read: state must survive between calls
            buffer.append(byte)
            let step = try buffer.withUnsafeBytes { try scanner.next(in: $0) }
            switch step {
            case .frame(let match):
                frames.append(Array(buffer[match.payload]))
                buffer.removeFirst(match.end)
            case .needMoreData(let discard):
                buffer.removeFirst(discard)
            }
        }
        #expect(frames == [[0x02, 0x41, 0x03, 0x0D, 0x0A, 0x02, 0x42, 0x03, 0x0D, 0x0A, 0x02, 0x43]])
        #expect(buffer == [0x58])
        #expect(FrameSpec.delimited(terminator: [0x03, 0x0D, 0x0A], count: 3).endDescription == "3× ETX CR LF")
    }

    @Test func cutOffFrameSaysHowManyTerminatorsArrived() throws {
        var scanner = FrameScanner(spec: .delimited(terminator: [0x03], count: 3))
        let bytes: [UInt8] = [0x41, 0x03, 0x42]
        _ = try bytes.withUnsafeBytes { try scanner.next(in: $0) }
        #expect {
            _ = try bytes.withUnsafeBytes { try scanner.last(in: $0) }
        } throws: { error in "\(error)".contains("1 of 3 ETX") }
    }
}
