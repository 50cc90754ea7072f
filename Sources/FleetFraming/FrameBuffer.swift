/// A self-contained decoder over ``FrameScanner`` that owns its bytes: feed chunks, collect payloads.
///
/// Meant for tests, the fuzzer and small tools. Network code uses the NIO adapter in `FleetCodec`, which scans
/// `ByteBuffer`s in place.
public struct FrameBuffer: Sendable {
    private var scanner: FrameScanner
    private var pending: [UInt8] = []
    /// Garbage bytes dropped so far (bytes before a frame's prefix).
    public private(set) var discardedBytes = 0

    public init(spec: FrameSpec, maxFrameBytes: Int = 1 << 20) {
        scanner = FrameScanner(spec: spec, maxFrameBytes: maxFrameBytes)
    }

    /// Bytes received but not yet part of a complete frame.
    public var bufferedBytes: Int { pending.count }

    /// Appends `chunk` and returns every payload it completed, in order.
    public mutating func feed(_ chunk: some Sequence<UInt8>) throws(FramingError) -> [[UInt8]] {
        pending.append(contentsOf: chunk)
        var payloads: [[UInt8]] = []
        while true {
            let step = try pending.withUnsafeBytes { bytes in
                Result { () throws(FramingError) in try scanner.next(in: bytes) }
            }.get()
            switch step {
            case .needMoreData(let discard):
                drop(discard, garbage: discard)
                return payloads
            case .frame(let match):
                payloads.append(Array(pending[match.payload]))
                drop(match.end, garbage: match.skipped)
            }
        }
    }

    /// Ends the stream: returns the final until-close payload, if any.
    /// - Throws: ``FramingError`` when bytes of an incomplete frame are left over.
    public mutating func finish() throws(FramingError) -> [UInt8]? {
        let match = try pending.withUnsafeBytes { bytes in
            Result { () throws(FramingError) in try scanner.last(in: bytes) }
        }.get()
        defer { pending.removeAll() }
        guard let match else {
            discardedBytes += pending.count
            return nil
        }
        discardedBytes += match.skipped
        return Array(pending[match.payload])
    }

    private mutating func drop(_ count: Int, garbage: Int) {
        guard count > 0 else { return }
        discardedBytes += garbage
        pending.removeFirst(count)
    }
}
