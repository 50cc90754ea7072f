package import FleetFraming
package import NIOCore

/// What one scan of a byte buffer found.
package struct ScannedFrame {
    /// The frame's payload, or `nil` when no frame is complete yet.
    package var payload: ByteBuffer?
    /// The whole frame as received (prefix or header and terminator included).
    package var frame: ByteBuffer?
    /// Garbage bytes consumed before the frame (or consumed because they can never start one).
    package var skipped: Int
}

extension ByteBuffer {
    /// Reads the next complete frame found by `scanner`, consuming it (and any garbage before it) from `self`.
    ///
    /// Garbage that can never be part of a frame is consumed even when no frame is complete yet, so it does not
    /// accumulate. Returns the payload as a slice of `self` (no copy) and the number of garbage bytes dropped.
    /// - Parameter keepingFrame: `false` leaves ``ScannedFrame/frame`` `nil` (a caller that needs the payload only
    ///   saves a slice per frame: the agent, for every command).
    /// - Throws: ``FramingError`` from the scanner (a frame over its limit).
    package mutating func readFrame(
        using scanner: inout FrameScanner, keepingFrame: Bool = true
    ) throws(FramingError) -> ScannedFrame {
        let step = try withUnsafeReadableBytes { bytes in
            Result { () throws(FramingError) in try scanner.next(in: bytes) }
        }.get()
        switch step {
        case .needMoreData(let discard):
            moveReaderIndex(forwardBy: discard)
            return ScannedFrame(payload: nil, frame: nil, skipped: discard)
        case .frame(let match):
            let payload = getSlice(at: readerIndex + match.payload.lowerBound, length: match.payload.count)
            let frame =
                keepingFrame ? getSlice(at: readerIndex + match.frame.lowerBound, length: match.frame.count) : nil
            moveReaderIndex(forwardBy: match.end)
            return ScannedFrame(payload: payload, frame: frame, skipped: match.skipped)
        }
    }

    /// At end of stream: reads the final frame of an until-close framing, or throws if a self-delimiting frame
    /// was cut off. Everything readable is consumed.
    package mutating func readLastFrame(using scanner: inout FrameScanner) throws(FramingError) -> ScannedFrame {
        let match = try withUnsafeReadableBytes { bytes in
            Result { () throws(FramingError) in try scanner.last(in: bytes) }
        }.get()
        defer { moveReaderIndex(to: writerIndex) }
        guard let match else { return ScannedFrame(payload: nil, frame: nil, skipped: readableBytes) }
        return ScannedFrame(
            payload: getSlice(at: readerIndex + match.payload.lowerBound, length: match.payload.count),
            frame: getSlice(at: readerIndex + match.frame.lowerBound, length: match.frame.count),
            skipped: match.skipped
        )
    }

    /// Appends `payload` framed by `spec`, so that a whole frame leaves in one write.
    package mutating func writeFrame(_ payload: ByteBuffer, spec: FrameSpec) throws(FramingError) {
        try spec.writeHeader(payloadCount: payload.readableBytes) { writeBytes($0) }
        writeImmutableBuffer(payload)
        if let terminator = spec.terminator(after: payload.readableBytesView) { writeBytes(terminator) }
    }

    /// Appends `payload` framed by `spec`: the agent's replies, copied in whole rather than through the generic
    /// collection form below (unspecialized across modules: a witness call per step), and the frame's parts in one
    /// write to the buffer (one check that it is uniquely held, not three).
    package mutating func writeFrame(_ payload: [UInt8], spec: FrameSpec) throws(FramingError) {
        var header: [UInt8] = []  // the spec's own prefix array when there is one: no copy
        try spec.writeHeader(payloadCount: payload.count) { header = header.isEmpty ? $0 : header + $0 }
        let terminator = spec.terminator(after: payload) ?? []
        let count = header.count + payload.count + terminator.count
        guard count > 0 else { return }
        writeWithUnsafeMutableBytes(minimumWritableBytes: count) { out in
            let afterHeader = header.count
            let afterPayload = afterHeader + payload.count
            header.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[..<afterHeader]).copyMemory(from: $0) }
            payload.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: out[afterHeader..<afterPayload]).copyMemory(from: $0)
            }
            terminator.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: out[afterPayload..<count]).copyMemory(from: $0)
            }
            return count
        }
    }

    /// Appends `payload` framed by `spec`.
    package mutating func writeFrame(_ payload: some Collection<UInt8>, spec: FrameSpec) throws(FramingError) {
        try spec.writeHeader(payloadCount: payload.count) { writeBytes($0) }
        writeBytes(payload)
        if let terminator = spec.terminator(after: payload) { writeBytes(terminator) }
    }
}
