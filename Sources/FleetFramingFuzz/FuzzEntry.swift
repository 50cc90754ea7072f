import FleetFraming

// libFuzzer entry point over the framing core: the reply/request scanner for every preset (and its reply rule), fed in two chunks
// split where the input says, and the escape and hex parsers. Any crash, trap or hang is a bug.
// Build: swift build --sanitize fuzzer --product FleetFramingFuzz (see scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let selector = input.first else { return 0 }
    let body = Array(input.dropFirst())
    let formats: [FrameFormat] =
        [
            .escCR, .line, .crlf, .cr, .raw, .length16, .length32, .fixed(3),
            FrameFormat.escCR.customized(prefix: [0x02, 0x02], suffix: [0x03], replyEnd: [0x0D, 0x0A]),
        ] + DevicePreset.builtins.map(\.format)  // the families: SIS commands, three ETX CR LF blocks, ...
    let format = formats[Int(selector) % formats.count]
    let split = body.isEmpty ? 0 : Int(selector) % (body.count + 1)
    for spec in [format.request, format.reply] {
        var buffer = FrameBuffer(spec: spec, maxFrameBytes: 64)
        var total = 0
        do {
            for payload in try buffer.feed(body[..<split]) { total += payload.count }
            for payload in try buffer.feed(body[split...]) { total += payload.count }
            if let last = try buffer.finish() { total += last.count }
            precondition(total <= body.count, "payloads larger than the input")
        } catch {
            _ = error.description
        }
    }
    let text = String(decoding: body, as: UTF8.self)
    if let parsed = try? ByteEscapes.parse(text) {
        precondition(parsed.count <= text.utf8.count, "escape parsing grew the input")
    }
    _ = try? ByteEscapes.parseHex(text)
    _ = ByteEscapes.render(body)
    _ = DevicePreset.builtins[Int(selector) % DevicePreset.builtins.count].replies.expectsReply(body)
    _ = try? DurationText.parse(text)
    _ = try? ByteCount.parse(text)
    return 0
}
