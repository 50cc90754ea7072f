public import FleetFraming
public import NIOCore

/// One decoded frame: its payload (without prefix, header or terminator).
public struct DecodedFrame: Sendable, Hashable {
    /// The payload bytes.
    public var payload: ByteBuffer
    /// Garbage bytes that stood before this frame and belong to no frame.
    public var skippedBytes: Int

    public init(payload: ByteBuffer, skippedBytes: Int = 0) {
        self.payload = payload
        self.skippedBytes = skippedBytes
    }
}

/// A NIO decoder over ``FrameScanner``: bytes in, ``DecodedFrame``s out, for either direction.
///
/// An agent or listener decodes requests with `FrameDecoder(spec: format.request)`; a client decodes replies
/// with `FrameDecoder(spec: format.reply)`.
///
/// ```
/// reads:   [1b 50 49] [4e 47 0d 1b 53] [0d]
/// frames:             "PING"           "S"
/// ```
///
/// At end of stream, an until-close frame is delivered; a cut-off self-delimiting frame is reported as a
/// ``FramingError`` (`incompleteFrame`), never dropped. Wrap it in `ByteToMessageHandler`.
public struct FrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = DecodedFrame

    private var scanner: FrameScanner
    private var pendingSkipped = 0

    /// - Parameters:
    ///   - spec: the framing to decode.
    ///   - maxFrameBytes: the largest payload accepted (default 1 MiB); past it, decoding throws `frameTooLarge`.
    public init(spec: FrameSpec, maxFrameBytes: Int = 1 << 20) {
        scanner = FrameScanner(spec: spec, maxFrameBytes: maxFrameBytes)
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> DecodedFrame? {
        let scanned = try buffer.readFrame(using: &scanner)
        pendingSkipped += scanned.skipped
        guard let payload = scanned.payload else { return nil }
        defer { pendingSkipped = 0 }
        return DecodedFrame(payload: payload, skippedBytes: pendingSkipped)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodedFrame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        guard seenEOF, buffer.readableBytes > 0 else { return nil }
        let scanned = try buffer.readLastFrame(using: &scanner)
        pendingSkipped += scanned.skipped
        guard let payload = scanned.payload else { return nil }
        defer { pendingSkipped = 0 }
        return DecodedFrame(payload: payload, skippedBytes: pendingSkipped)
    }
}

/// A NIO encoder that frames each outbound payload with `spec`, so one payload leaves as one whole frame.
public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = ByteBuffer

    /// The framing applied to each payload.
    public let spec: FrameSpec

    public init(spec: FrameSpec) { self.spec = spec }

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        try out.writeFrame(data, spec: spec)
    }
}
