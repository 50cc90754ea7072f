import FleetFraming
import Testing

/// One decoding case: bytes in, payloads out, and what is left at end of stream.
struct ScanCase: CustomTestStringConvertible, Sendable {
    enum End: Sendable, Equatable {
        case clean
        case lastFrame([UInt8])
        case incomplete(byteCount: Int)
        case tooLarge
    }
    var name: String
    var spec: FrameSpec
    var input: [UInt8]
    var frames: [[UInt8]]
    var end: End = .clean
    var maxFrameBytes = 1 << 20
    var discarded = 0
    var testDescription: String { name }
}

private func b(_ text: String) -> [UInt8] { Array(text.utf8) }

let scanCases: [ScanCase] = [
    ScanCase(name: "esc-cr reply to NUL", spec: FrameFormat.escCR.reply, input: b("PONG\0"), frames: [b("PONG")]),
    ScanCase(
        name: "esc-cr two replies and leftover", spec: FrameFormat.escCR.reply, input: b("A\0BB\0CC"),
        frames: [b("A"), b("BB")], end: .incomplete(byteCount: 2)),
    ScanCase(name: "esc-cr empty reply", spec: FrameFormat.escCR.reply, input: [0], frames: [[]]),
    ScanCase(name: "esc-cr request", spec: FrameFormat.escCR.request, input: [0x1B] + b("PING\r"), frames: [b("PING")]),
    ScanCase(
        name: "esc-cr request garbage before ESC", spec: FrameFormat.escCR.request,
        input: b("junk") + [0x1B] + b("A\r") + b("\n") + [0x1B] + b("B\r"), frames: [b("A"), b("B")], discarded: 5),
    ScanCase(
        name: "esc-cr request ESC ESC CR", spec: FrameFormat.escCR.request, input: [0x1B, 0x1B, 0x0D], frames: [[0x1B]]),
    ScanCase(name: "esc-cr request empty command", spec: FrameFormat.escCR.request, input: [0x1B, 0x0D], frames: [[]]),
    ScanCase(
        name: "esc-cr request only garbage", spec: FrameFormat.escCR.request, input: b("garbage"), frames: [],
        discarded: 7),
    ScanCase(
        name: "esc-cr request cut off", spec: FrameFormat.escCR.request, input: [0x1B] + b("PIN"), frames: [],
        end: .incomplete(byteCount: 4)),
    ScanCase(
        name: "esc-cr request NUL and 0xFF inside", spec: FrameFormat.escCR.request, input: [0x1B, 0x00, 0xFF, 0x0D],
        frames: [[0x00, 0xFF]]),
    ScanCase(
        name: "line with CRLF keeps CR in payload", spec: FrameFormat.line.reply, input: b("OK\r\nOK2\n"),
        frames: [b("OK\r"), b("OK2")]),
    ScanCase(
        name: "crlf request", spec: FrameFormat.crlf.request, input: b("A\r\nB\rC\r\n"), frames: [b("A"), b("B\rC")]),
    ScanCase(name: "cr", spec: FrameFormat.cr.reply, input: b("X\rY\r"), frames: [b("X"), b("Y")]),
    ScanCase(
        name: "raw until close", spec: FrameFormat.raw.reply, input: b("anything\0at\nall"), frames: [],
        end: .lastFrame(b("anything\0at\nall"))),
    ScanCase(name: "raw nothing", spec: FrameFormat.raw.reply, input: [], frames: []),
    ScanCase(
        name: "raw too large", spec: FrameFormat.raw.reply, input: b("123456"), frames: [], end: .tooLarge,
        maxFrameBytes: 5),
    ScanCase(
        name: "length16", spec: FrameFormat.length16.reply, input: [0, 4] + b("PONG") + [0, 0] + [0, 1] + b("x"),
        frames: [b("PONG"), [], b("x")]),
    ScanCase(
        name: "length16 cut off", spec: FrameFormat.length16.reply, input: [0, 9] + b("abc"), frames: [],
        end: .incomplete(byteCount: 3)),
    ScanCase(
        name: "length16 header cut off", spec: FrameFormat.length16.reply, input: [0], frames: [],
        end: .incomplete(byteCount: 1)),
    ScanCase(name: "length32", spec: FrameFormat.length32.reply, input: [0, 0, 0, 2] + b("hi"), frames: [b("hi")]),
    ScanCase(
        name: "length32 declared too large", spec: FrameFormat.length32.reply, input: [0, 0x10, 0, 1] + b("x"),
        frames: [], end: .tooLarge, maxFrameBytes: 1024),
    ScanCase(
        name: "fixed:1 status bytes", spec: FrameFormat.fixed(1).reply, input: [0x12, 0x16], frames: [[0x12], [0x16]]),
    ScanCase(
        name: "fixed:3 leftover", spec: FrameFormat.fixed(3).reply, input: [1, 2, 3, 4], frames: [[1, 2, 3]],
        end: .incomplete(byteCount: 1)),
    ScanCase(
        name: "delimited oversize", spec: FrameFormat.escCR.reply, input: b("0123456789\0"), frames: [], end: .tooLarge,
        maxFrameBytes: 8),
    ScanCase(
        name: "delimited exactly at limit", spec: FrameFormat.escCR.reply, input: b("01234567\0"),
        frames: [b("01234567")], maxFrameBytes: 8),
    ScanCase(
        name: "multi-byte terminator and prefix",
        spec: .delimited(prefix: [0x02, 0x02], terminator: [0x03, 0x0D, 0x0A]),
        input: b("zz") + [0x02, 0x02] + b("A\u{3}B") + [0x03, 0x0D, 0x0A] + [0x02], frames: [b("A\u{3}B")], discarded: 3
    ),
    // Extron SIS commands: basic ones end at their command character, Esc ones at CR; separators are no frame.
    ScanCase(
        name: "sis basic and Esc commands", spec: .sisCommand, input: b("Q1!1*2&+V") + [0x1B] + b("CN\r12V"),
        frames: [b("Q"), b("1!"), b("1*2&"), b("+V"), [0x1B] + b("CN"), b("12V")]),
    ScanCase(
        name: "sis separators between commands", spec: .sisCommand, input: b("Q\r\n N\r\n"), frames: [b("Q"), b("N")],
        discarded: 5),
    ScanCase(
        name: "sis Esc command cut off", spec: .sisCommand, input: b("Q") + [0x1B] + b("CN"), frames: [b("Q")],
        end: .incomplete(byteCount: 3)),
    ScanCase(
        name: "sis parameters past the limit", spec: .sisCommand, input: b("123456789Q"), frames: [], end: .tooLarge,
        maxFrameBytes: 4),
    ScanCase(
        name: "sis Esc command past the limit", spec: .sisCommand, input: [0x1B] + b("123456789\r"), frames: [],
        end: .tooLarge, maxFrameBytes: 4),
]

/// The outcome of decoding a case with chunks cut at the given offsets.
private func decode(_ scanCase: ScanCase, cuts: [Int]) -> (frames: [[UInt8]], end: ScanCase.End, discarded: Int) {
    var buffer = FrameBuffer(spec: scanCase.spec, maxFrameBytes: scanCase.maxFrameBytes)
    var frames: [[UInt8]] = []
    var start = 0
    do {
        for cut in cuts + [scanCase.input.count] {
            frames += try buffer.feed(scanCase.input[start..<cut])
            start = cut
        }
        if let last = try buffer.finish() { return (frames, .lastFrame(last), buffer.discardedBytes) }
        return (frames, .clean, buffer.discardedBytes)
    } catch {
        if error.code == .frameTooLarge { return (frames, .tooLarge, buffer.discardedBytes) }
        #expect(error.code == .incompleteFrame, "unexpected error \(error)")
        return (frames, .incomplete(byteCount: error.byteCount), buffer.discardedBytes)
    }
}

@Suite struct FrameScannerTests {
    @Test(arguments: scanCases)
    func wholeInputDecodesAsExpected(_ scanCase: ScanCase) {
        let result = decode(scanCase, cuts: [])
        #expect(result.frames == scanCase.frames)
        #expect(result.end == scanCase.end)
        #expect(result.discarded == scanCase.discarded)
    }

    @Test(arguments: scanCases)
    func byteByByteDecodesLikeWhole(_ scanCase: ScanCase) {
        let result = decode(scanCase, cuts: Array(0..<scanCase.input.count))
        #expect(result.frames == scanCase.frames)
        #expect(result.end == scanCase.end)
    }

    @Test(arguments: scanCases)
    func everySplitPointDecodesLikeWhole(_ scanCase: ScanCase) {
        for cut in 0...scanCase.input.count {
            let result = decode(scanCase, cuts: [cut])
            #expect(result.frames == scanCase.frames, "split at \(cut)")
            #expect(result.end == scanCase.end, "split at \(cut)")
            #expect(result.discarded == scanCase.discarded, "split at \(cut)")
        }
    }

    @Test func oversizeWithoutTerminatorFailsBeforeBufferingMuchMoreThanTheLimit() throws {
        var buffer = FrameBuffer(spec: FrameFormat.escCR.request, maxFrameBytes: 4096)
        let chunk = [UInt8](repeating: 0x41, count: 1000)
        #expect(try buffer.feed([0x1B]).isEmpty)
        var fed = 1
        let error = #expect(throws: FramingError.self) {
            while fed < 10_000_000 {
                _ = try buffer.feed(chunk)
                fed += chunk.count
            }
        }
        #expect(error?.code == .frameTooLarge)
        #expect(fed <= 4096 + chunk.count)
    }

    @Test func garbageIsDiscardedAsItArrivesSoNothingAccumulates() throws {
        var buffer = FrameBuffer(spec: FrameFormat.escCR.request, maxFrameBytes: 16)
        for _ in 0..<1000 { #expect(try buffer.feed([UInt8](repeating: 0x20, count: 100)).isEmpty) }
        #expect(buffer.bufferedBytes == 0)
        #expect(buffer.discardedBytes == 100_000)
        #expect(try buffer.feed([0x1B, 0x41, 0x0D]) == [[0x41]])
    }

    @Test func tenThousandPipelinedFramesInOneChunk() throws {
        var buffer = FrameBuffer(spec: FrameFormat.escCR.request)
        var input: [UInt8] = []
        for index in 0..<10_000 { input += [0x1B] + Array("CMD \(index)".utf8) + [0x0D] }
        let frames = try buffer.feed(input)
        #expect(frames.count == 10_000)
        #expect(frames.last == Array("CMD 9999".utf8))
    }

    @Test(arguments: [FrameFormat.escCR, .line, .crlf, .cr, .raw, .length16, .length32, .fixed(4)])
    func encodedRequestsDecodeToTheSamePayload(_ format: FrameFormat) throws {
        let payload = Array("ABCD".utf8)
        for spec in [format.request, format.reply] {
            var buffer = FrameBuffer(spec: spec)
            var frames = try buffer.feed(try spec.encode(payload))
            if let last = try buffer.finish() { frames.append(last) }
            #expect(frames == [payload])
        }
    }

    @Test func sisEncodingAddsCROnlyAfterAnEscCommand() throws {
        #expect(try FrameSpec.sisCommand.encode(b("Q")) == b("Q"))
        #expect(try FrameSpec.sisCommand.encode(b("1*2!")) == b("1*2!"))
        #expect(try FrameSpec.sisCommand.encode([0x1B] + b("CN")) == [0x1B] + b("CN\r"))
        let extron = try #require(DevicePreset.builtin(named: "extron-sis"))
        #expect(try extron.format.request.encode(b("N")) == b("N"))
    }

    @Test func encodingAddsPresetBytes() throws {
        #expect(try FrameFormat.escCR.request.encode(Array("PING".utf8)) == [0x1B, 0x50, 0x49, 0x4E, 0x47, 0x0D])
        #expect(try FrameFormat.escCR.reply.encode(Array("OK".utf8)) == [0x4F, 0x4B, 0x00])
        #expect(try FrameFormat.length16.request.encode([1, 2, 3]) == [0, 3, 1, 2, 3])
        #expect(try FrameFormat.length32.request.encode([9]) == [0, 0, 0, 1, 9])
        #expect(try FrameFormat.raw.request.encode([7, 8]) == [7, 8])
        #expect(throws: FramingError.self) {
            try FrameFormat.length16.request.encode([UInt8](repeating: 0, count: 70_000))
        }
    }

    @Test func presetsResolveByNameAndRejectUnknownOnes() throws {
        #expect(try FrameFormat.preset(named: "esc-cr") == .escCR)
        #expect(try FrameFormat.preset(named: "fixed:2").reply == .fixedLength(2))
        let error = #expect(throws: FramingError.self) { try FrameFormat.preset(named: "bogus") }
        #expect(error?.code == .unknownPreset)
        #expect(throws: FramingError.self) { try FrameFormat.preset(named: "fixed:0") }
        #expect(throws: FramingError.self) { try FrameFormat.preset(named: "fixed:x") }
    }

    @Test func customFramingOverridesThePreset() {
        let custom = FrameFormat.escCR.customized(prefix: [], suffix: [0x0A], replyEnd: [0x03])
        #expect(custom.request == .delimited(terminator: [0x0A]))
        #expect(custom.reply == .delimited(terminator: [0x03]))
        #expect(FrameFormat.escCR.customized(replyEnd: []).reply.endsAtClose)
        #expect(FrameFormat.escCR.customized() == .escCR)
    }

    @Test func endDescriptionsNameTheTerminator() {
        #expect(FrameFormat.escCR.reply.endDescription == "NUL")
        #expect(FrameFormat.crlf.request.endDescription == "CR LF")
        #expect(FrameSpec.delimited(terminator: [0x3A]).endDescription == "\":\"")
    }
}

@Suite struct TLSRecordSnifferTests {
    @Test(
        arguments: [
            ([0x15, 0x03, 0x01], true),  // an alert (15 03 01 00 02 02 46), as a TLS port answers plaintext
            ([0x16, 0x03, 0x03], true),  // a handshake record
            ([0x16, 0x03, 0x04], true),  // TLS 1.3's version number
            ([0x4F, 0x4B, 0x00], false),  // "OK" NUL
            ([0x16, 0x16, 0x16], false),  // ESC/POS status bytes
            ([0x15, 0x03, 0x09], false),  // no such version
            ([0x17, 0x03, 0x03], false),  // application data: not what a TLS port sends first
        ] as [([UInt8], Bool)])
    func recognisesTLSRecordHeaders(bytes: [UInt8], isTLS: Bool) {
        #expect(TLSRecordSniffer.looksLikeTLS(type: bytes[0], major: bytes[1], minor: bytes[2]) == isTLS)
    }
}

@Suite struct YAMLIntegerTests {
    @Test func readsYAML11IntegersWithoutTrapping() {
        #expect(YAMLInteger.parse("12") == 12)
        #expect(YAMLInteger.parse("-1_000") == -1000)
        #expect(YAMLInteger.parse("0x1F") == 31)
        #expect(YAMLInteger.parse("017") == 15)
        #expect(YAMLInteger.parse("0o17") == 15)
        #expect(YAMLInteger.parse("0b101") == 5)
        #expect(YAMLInteger.parse("1:20") == 80)
        #expect(YAMLInteger.parse("190:20:30") == 685_230)
        // Found by fuzzing: Yams' own conversion traps on this base-60 overflow.
        #expect(YAMLInteger.parse("5:25:27:5:5:5:5:7:5:5:5:5:5") == nil)
        #expect(YAMLInteger.parse("99999999999999999999") == nil)
        #expect(YAMLInteger.parse("1:75") == nil)
        #expect(YAMLInteger.parse("abc") == nil)
    }
}
