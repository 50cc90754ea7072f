/// An incremental, allocation-free frame finder: feed it the unconsumed bytes, get frame boundaries back.
///
/// The scanner never copies or owns bytes. Each call is handed the caller's whole unconsumed buffer; the caller
/// then drops what the answer says was consumed (or discarded) and keeps the rest for the next call. The scanner
/// remembers how far it already searched, so bytes that arrive one at a time are not searched again.
///
/// ```
/// spec = delimited(prefix: ESC, terminator: CR)
///
/// call 1:  "xx" 1b 50 49          -> .needMoreData(discard: 2)      ("xx" is garbage before the prefix)
/// call 2:  1b 50 49 4e 47 0d 1b   -> .frame(payload: 1..<5, end: 6) (caller drops 6 bytes)
/// call 3:  1b                     -> .needMoreData(discard: 0)
/// at EOF:  1b                     -> throws incompleteFrame(got 1 byte, no CR)
/// ```
///
/// Limits: no frame payload may exceed `maxFrameBytes`. The check happens as soon as the bytes at hand prove
/// the payload too long (for a length prefix, as soon as the header is read), so a caller that stops buffering
/// on the error never holds more than the limit plus one read.
public struct FrameScanner: Sendable {
    /// Where one frame lies in the buffer that was scanned.
    public struct Match: Sendable, Hashable {
        /// Garbage bytes before the frame (before its prefix) that belong to no frame.
        public var skipped: Int
        /// The payload: the frame without prefix, length header or terminator.
        public var payload: Range<Int>
        /// The whole frame including its prefix or header, excluding skipped garbage.
        public var frame: Range<Int>
        /// How many bytes the caller drops from the front of its buffer: `skipped` plus the frame.
        public var end: Int { frame.upperBound }
    }

    /// The result of one scan.
    public enum Step: Sendable, Hashable {
        /// No complete frame yet. The caller may drop `discard` garbage bytes from the front of its buffer now.
        case needMoreData(discard: Int)
        /// A complete frame.
        case frame(Match)
    }

    /// The framing being scanned.
    public let spec: FrameSpec
    /// The largest payload accepted, in bytes.
    public let maxFrameBytes: Int
    /// Offset (in the caller's current buffer) where the next terminator search starts.
    private var scanOffset = 0
    /// Terminators already found before `scanOffset` in the current frame (for frames that end at the n-th).
    private var terminatorsFound = 0

    /// - Parameters:
    ///   - spec: the framing to find.
    ///   - maxFrameBytes: the largest payload accepted (default 1 MiB); a fixed frame larger than this is
    ///     still accepted at its own size.
    public init(spec: FrameSpec, maxFrameBytes: Int = 1 << 20) {
        self.spec = spec
        if case .fixed(let count) = spec.kind {
            self.maxFrameBytes = max(maxFrameBytes, count)
        } else {
            self.maxFrameBytes = maxFrameBytes
        }
    }

    /// Looks for the next frame in `bytes`, the caller's whole unconsumed buffer.
    ///
    /// After `.frame(m)` the caller must drop `m.end` bytes; after `.needMoreData(discard: n)`, `n` bytes.
    /// - Throws: ``FramingError/Code/frameTooLarge`` once the payload is known to exceed ``maxFrameBytes``.
    public mutating func next(in bytes: UnsafeRawBufferPointer) throws(FramingError) -> Step {
        switch spec.kind {
        case .delimited(let prefix, let terminator), .delimitedRepeatedly(let prefix, let terminator, _):
            guard let start = Self.locate(prefix: prefix, in: bytes) else {
                return .needMoreData(discard: discardable(bytes, prefix: prefix))
            }
            let payloadStart = start + prefix.count
            var from = max(payloadStart, scanOffset)
            var found = scanOffset > 0 ? terminatorsFound : 0
            while let terminatorAt = findTerminator(terminator, in: bytes, from: from) {
                found += 1
                from = terminatorAt + terminator.count
                guard found >= spec.terminatorCount else { continue }
                let payloadCount = terminatorAt - payloadStart
                guard payloadCount <= maxFrameBytes else { throw tooLarge(payloadCount) }
                scanOffset = 0
                terminatorsFound = 0
                return .frame(
                    Match(
                        skipped: start, payload: payloadStart..<terminatorAt,
                        frame: start..<(terminatorAt + terminator.count)))
            }
            // The terminator may still begin in the last `terminator.count - 1` bytes.
            let searchedUpTo = max(from, bytes.count - (terminator.count - 1))
            if searchedUpTo - payloadStart > maxFrameBytes { throw tooLarge(searchedUpTo - payloadStart) }
            scanOffset = searchedUpTo - start
            terminatorsFound = found
            return .needMoreData(discard: start)

        case .lengthPrefixed(let width):
            guard bytes.count >= width else { return .needMoreData(discard: 0) }
            var length = 0
            for index in 0..<width { length = length << 8 | Int(bytes[index]) }
            guard length <= maxFrameBytes else { throw tooLarge(length) }
            guard bytes.count >= width + length else { return .needMoreData(discard: 0) }
            return .frame(Match(skipped: 0, payload: width..<(width + length), frame: 0..<(width + length)))

        case .fixed(let count):
            guard bytes.count >= count else { return .needMoreData(discard: 0) }
            return .frame(Match(skipped: 0, payload: 0..<count, frame: 0..<count))

        case .untilClose(let prefix):
            guard let start = Self.locate(prefix: prefix, in: bytes) else {
                return .needMoreData(discard: discardable(bytes, prefix: prefix))
            }
            let payloadCount = bytes.count - start - prefix.count
            if payloadCount > maxFrameBytes { throw tooLarge(payloadCount) }
            return .needMoreData(discard: start)

        case .sisCommand:
            return try nextSISCommand(in: bytes)
        }
    }

    /// An Extron SIS command (``FrameSpec/sisCommand``): CR, LF, spaces and NULs between commands belong to no
    /// frame; ESC starts an Esc command that ends at CR; anything else is a basic command: parameter bytes, then
    /// the command character that ends it.
    private mutating func nextSISCommand(in bytes: UnsafeRawBufferPointer) throws(FramingError) -> Step {
        var start = 0
        while start < bytes.count, Self.isSISSeparator(bytes[start]) { start += 1 }
        guard start < bytes.count else { return .needMoreData(discard: start) }
        var index = max(start + 1, scanOffset)
        if bytes[start] == 0x1B {
            while index < bytes.count, bytes[index] != 0x0D { index += 1 }
            // The payload keeps the ESC: `index - start` bytes.
            guard index - start <= maxFrameBytes else { throw tooLarge(index - start) }
            guard index < bytes.count else {
                scanOffset = index - start
                return .needMoreData(discard: start)
            }
            scanOffset = 0
            return .frame(Match(skipped: start, payload: start..<index, frame: start..<(index + 1)))
        }
        index = max(start, scanOffset)
        while index < bytes.count, Self.isSISParameter(bytes[index]) { index += 1 }
        guard index < bytes.count else {
            if index - start > maxFrameBytes { throw tooLarge(index - start) }
            scanOffset = index - start
            return .needMoreData(discard: start)
        }
        guard index + 1 - start <= maxFrameBytes else { throw tooLarge(index + 1 - start) }
        scanOffset = 0
        return .frame(Match(skipped: start, payload: start..<(index + 1), frame: start..<(index + 1)))
    }

    private static func isSISSeparator(_ byte: UInt8) -> Bool {
        byte == 0x0D || byte == 0x0A || byte == 0x20 || byte == 0x00
    }

    /// Digits and `*` (the SIS guides' X1*X2 parameters), and the `+`/`-` of relative settings (`+V`).
    private static func isSISParameter(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || byte == 0x2A || byte == 0x2B || byte == 0x2D || byte == 0x2E
    }

    /// Called once the stream has ended, after ``next(in:)`` returned `.needMoreData` and its discard was
    /// applied: returns the final frame of an until-close framing, or `nil` when nothing is left.
    ///
    /// - Throws: ``FramingError/Code/incompleteFrame`` when a self-delimiting frame was cut off (leftover bytes
    ///   are reported, never silently dropped), or ``FramingError/Code/frameTooLarge``.
    public mutating func last(in bytes: UnsafeRawBufferPointer) throws(FramingError) -> Match? {
        defer { reset() }
        switch spec.kind {
        case .untilClose(let prefix):
            guard !bytes.isEmpty, let start = Self.locate(prefix: prefix, in: bytes) else { return nil }
            let payloadCount = bytes.count - start - prefix.count
            if payloadCount > maxFrameBytes { throw tooLarge(payloadCount) }
            return Match(skipped: start, payload: (start + prefix.count)..<bytes.count, frame: start..<bytes.count)
        case .delimited(let prefix, let terminator), .delimitedRepeatedly(let prefix, let terminator, _):
            // Only garbage (no prefix) is not a frame at all.
            guard Self.locate(prefix: prefix, in: bytes) != nil, !bytes.isEmpty else { return nil }
            let missing =
                spec.terminatorCount > 1
                ? "\(terminatorsFound) of \(spec.terminatorCount) \(FrameSpec.describeBytes(terminator))"
                : "no \(FrameSpec.describeBytes(terminator))"
            throw FramingError(.incompleteFrame, byteCount: bytes.count, detail: missing)
        case .lengthPrefixed(let width):
            guard !bytes.isEmpty else { return nil }
            guard bytes.count >= width else {
                throw FramingError(.incompleteFrame, byteCount: bytes.count, detail: "length prefix incomplete")
            }
            var length = 0
            for index in 0..<width { length = length << 8 | Int(bytes[index]) }
            throw FramingError(
                .incompleteFrame, byteCount: bytes.count - width, limit: length, detail: "expected \(length)")
        case .fixed(let count):
            guard !bytes.isEmpty else { return nil }
            throw FramingError(.incompleteFrame, byteCount: bytes.count, limit: count, detail: "expected \(count)")
        case .sisCommand:
            guard bytes.contains(where: { !Self.isSISSeparator($0) }) else { return nil }
            let detail = bytes.first == 0x1B ? "no CR after the Esc command" : "no command character"
            throw FramingError(.incompleteFrame, byteCount: bytes.count, detail: detail)
        }
    }

    /// Tells the scanner that the caller dropped bytes from the front of its buffer without a scan having asked
    /// for it (for example after an error); the next search starts over.
    public mutating func reset() {
        scanOffset = 0
        terminatorsFound = 0
    }

    private func tooLarge(_ count: Int) -> FramingError {
        FramingError(.frameTooLarge, byteCount: count, limit: maxFrameBytes)
    }

    /// The offset of the first complete `prefix` in `bytes` (0 for an empty prefix), or `nil`.
    private static func locate(prefix: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int? {
        guard let first = prefix.first else { return 0 }
        var index = 0
        while index + prefix.count <= bytes.count {
            if bytes[index] == first, matches(prefix, in: bytes, at: index) { return index }
            index += 1
        }
        return nil
    }

    /// How many leading bytes can be dropped when no prefix was found: all but a tail that could be the start of one.
    private func discardable(_ bytes: UnsafeRawBufferPointer, prefix: [UInt8]) -> Int {
        var keep = min(prefix.count - 1, bytes.count)
        while keep > 0 {
            var isPartial = true
            for offset in 0..<keep where bytes[bytes.count - keep + offset] != prefix[offset] {
                isPartial = false
                break
            }
            if isPartial { break }
            keep -= 1
        }
        return bytes.count - keep
    }

    private func findTerminator(_ terminator: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let first = terminator[0]
        var index = start
        let lastStart = bytes.count - terminator.count
        while index <= lastStart {
            if bytes[index] == first, Self.matches(terminator, in: bytes, at: index) { return index }
            index += 1
        }
        return nil
    }

    private static func matches(_ pattern: [UInt8], in bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        for index in 1..<max(1, pattern.count) where bytes[offset + index] != pattern[index] { return false }
        return true
    }
}
