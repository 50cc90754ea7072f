public import FleetFraming
public import NIOCore

/// One decoded frame: its payload (without prefix, header or terminator).
public struct DecodedFrame: Sendable, Hashable {
    /// The payload bytes.
    public var payload: ByteBuffer
    /// Garbage bytes that stood before this frame and belong to no frame.
    public var skippedBytes: Int
    /// No frame: the record of ``skippedBytes`` that came after the last frame, when the stream ended (so that
    /// every byte received is either in a frame or counted).
    public var isTrailingDiscard: Bool

    public init(payload: ByteBuffer, skippedBytes: Int = 0, isTrailingDiscard: Bool = false) {
        self.payload = payload
        self.skippedBytes = skippedBytes
        self.isTrailingDiscard = isTrailingDiscard
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

    /// At the end of the stream, bytes that form no frame are never dropped silently: a frame cut off is a
    /// ``FramingError`` (which also counts the bytes outside any frame before it), and bytes outside any frame
    /// after the last one come as a ``DecodedFrame/isTrailingDiscard`` record.
    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodedFrame? {
        if let frame = try decode(buffer: &buffer) { return frame }
        guard seenEOF else { return nil }
        if buffer.readableBytes > 0 {
            let scanned: ScannedFrame
            do {
                scanned = try buffer.readLastFrame(using: &scanner)
            } catch {
                var failure = error
                if pendingSkipped > 0 {
                    let outside = "after \(pendingSkipped) bytes outside any frame"
                    failure.detail = failure.detail.isEmpty ? outside : failure.detail + ", " + outside
                    pendingSkipped = 0
                }
                throw failure
            }
            pendingSkipped += scanned.skipped
            if let payload = scanned.payload {
                defer { pendingSkipped = 0 }
                return DecodedFrame(payload: payload, skippedBytes: pendingSkipped)
            }
        }
        guard pendingSkipped > 0 else { return nil }
        defer { pendingSkipped = 0 }
        return DecodedFrame(payload: ByteBuffer(), skippedBytes: pendingSkipped, isTrailingDiscard: true)
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
