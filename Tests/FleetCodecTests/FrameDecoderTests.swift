import FleetCodec
import FleetFraming
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

@Suite struct FrameDecoderTests {
    private func buffer(_ bytes: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: bytes) }

    @Test func verifierAcceptsEveryPresetWithNoLeftovers() throws {
        let cases: [(FrameSpec, [UInt8], [[UInt8]])] = [
            (FrameFormat.escCR.reply, Array("PONG\0OK\0".utf8), [Array("PONG".utf8), Array("OK".utf8)]),
            (FrameFormat.escCR.request, [0x1B] + Array("PING\r".utf8), [Array("PING".utf8)]),
            (FrameFormat.line.reply, Array("a\nb\n".utf8), [Array("a".utf8), Array("b".utf8)]),
            (FrameFormat.length16.reply, [0, 2, 0x41, 0x42], [[0x41, 0x42]]),
            (FrameFormat.fixed(1).reply, [0x12, 0x13], [[0x12], [0x13]]),
        ]
        for (spec, input, frames) in cases {
            try ByteToMessageDecoderVerifier.verifyDecoder(
                inputOutputPairs: [(buffer(input), frames.map { DecodedFrame(payload: buffer($0)) })],
                decoderFactory: { FrameDecoder(spec: spec) }
            )
        }
    }

    /// The array form of `writeFrame` (the agent's replies) writes what the generic form and `encode` write, and
    /// refuses what they refuse, for every kind of framing.
    @Test func writingAnArrayFrameMatchesTheGenericForm() throws {
        let specs: [FrameSpec] = [
            FrameFormat.escCR.reply, FrameFormat.escCR.request, FrameFormat.line.reply, FrameFormat.length16.reply,
            .lengthPrefixed(width: 4), FrameFormat.fixed(3).reply, .untilClose, .sisCommand,
            .delimited(prefix: [0x02], terminator: [0x03, 0x0D], count: 2),
        ]
        let payloads: [[UInt8]] = [
            [], Array("PONG".utf8), [0x1B, 0x41], [0x41, 0x42, 0x43], Array(repeating: 0x61, count: 300),
        ]
        for spec in specs {
            for payload in payloads {
                var viaArray = ByteBuffer(bytes: [0x7E])  // after bytes already written
                var viaGeneric = viaArray
                let arrayOutcome = Result { () throws(FramingError) in try viaArray.writeFrame(payload, spec: spec) }
                let genericOutcome = Result { () throws(FramingError) in
                    try viaGeneric.writeFrame(payload[...], spec: spec)
                }
                switch (arrayOutcome, genericOutcome) {
                case (.success, .success):
                    #expect(viaArray == viaGeneric, "\(spec) \(payload.prefix(8))")
                    #expect(Array(viaArray.readableBytesView.dropFirst()) == (try spec.encode(payload)))
                case (.failure(let array), .failure(let generic)):
                    #expect(array.code == generic.code)
                default:
                    Issue.record("\(spec) \(payload.prefix(8)): one form wrote, the other threw")
                }
            }
        }
    }

    @Test func leftoverBytesAtEndOfStreamAreReportedNotDropped() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(spec: FrameFormat.escCR.reply)))
        try channel.writeInbound(buffer(Array("OK\0PAR".utf8)))
        #expect(try channel.readInbound(as: DecodedFrame.self)?.payload == buffer(Array("OK".utf8)))
        let error = #expect(throws: FramingError.self) { try channel.finish() }
        #expect(error?.code == .incompleteFrame)
        #expect(error?.byteCount == 3)
    }

    /// Bytes outside any frame are counted at the end of the stream too: after the last frame (a trailing record),
    /// and before a frame cut off by the end (in the error).
    @Test func bytesOutsideAFrameAtEndOfStreamAreCounted() throws {
        let trailing = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(spec: FrameFormat.escCR.request)))
        try trailing.writeInbound(buffer([0x1B] + Array("ONE\rjunk".utf8)))
        #expect(try trailing.readInbound(as: DecodedFrame.self)?.payload == buffer(Array("ONE".utf8)))
        _ = try trailing.finish()
        let record = try #require(try trailing.readInbound(as: DecodedFrame.self))
        #expect(record.isTrailingDiscard && record.skippedBytes == 4)

        let cut = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(spec: FrameFormat.escCR.request)))
        try cut.writeInbound(buffer(Array("junk".utf8) + [0x1B] + Array("PART".utf8)))
        let error = #expect(throws: FramingError.self) { try cut.finish() }
        #expect(error?.code == .incompleteFrame)
        #expect(error?.detail.hasSuffix("after 4 bytes outside any frame") == true)
    }

    @Test func untilCloseFrameIsDeliveredAtEndOfStream() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(spec: .untilClose)))
        try channel.writeInbound(buffer([1, 2]))
        try channel.writeInbound(buffer([3]))
        #expect(try channel.readInbound(as: DecodedFrame.self) == nil)
        _ = try channel.finish()
        #expect(try channel.readInbound(as: DecodedFrame.self)?.payload == buffer([1, 2, 3]))
    }

    @Test func oversizeFrameRaisesAnError() throws {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(FrameDecoder(spec: FrameFormat.escCR.request, maxFrameBytes: 8)))
        let error = #expect(throws: FramingError.self) {
            try channel.writeInbound(self.buffer([0x1B] + [UInt8](repeating: 0x41, count: 100)))
        }
        #expect(error?.code == .frameTooLarge)
        _ = try? channel.finish()
    }

    @Test func garbageCountIsCarriedOnTheNextFrame() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(spec: FrameFormat.escCR.request)))
        try channel.writeInbound(buffer(Array("xyz".utf8)))
        try channel.writeInbound(buffer([0x1B, 0x41, 0x0D]))
        let frame = try #require(try channel.readInbound(as: DecodedFrame.self))
        #expect(frame.skippedBytes == 3)
        #expect(try channel.finish().isClean)
    }

    @Test(arguments: [FrameFormat.escCR, .line, .crlf, .length16, .length32, .raw])
    func encoderWritesWholeFrames(_ format: FrameFormat) throws {
        let channel = EmbeddedChannel(handler: MessageToByteHandler(FrameEncoder(spec: format.request)))
        try channel.writeOutbound(buffer(Array("CMD".utf8)))
        let written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(Array(written.readableBytesView) == (try format.request.encode(Array("CMD".utf8))))
        #expect(try channel.finish().isClean)
    }
}
