/// An error from framing, parsing command text, or parsing a duration or size.
///
/// The ``code`` says what kind of problem it is; ``description`` is one line fit for a user.
public struct FramingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. A struct rather than an enum so that codes can be added without breaking users.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Base: String, Sendable, Hashable {
            case frameTooLarge = "frame too large"
            case incompleteFrame = "incomplete frame"
            case payloadTooLargeForLength = "payload too large for its length field"
            case wrongFixedLength = "payload does not match the fixed frame length"
            case unknownPreset = "unknown preset"
            case invalidEscape = "invalid escape"
            case invalidHex = "invalid hex"
            case invalidDuration = "invalid duration"
            case invalidByteCount = "invalid size"
        }
        let base: Base
        init(_ base: Base) { self.base = base }

        /// A frame grew past its byte limit before it ended.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// The stream ended inside a frame.
        public static let incompleteFrame = Code(.incompleteFrame)
        public static let payloadTooLargeForLength = Code(.payloadTooLargeForLength)
        public static let wrongFixedLength = Code(.wrongFixedLength)
        public static let unknownPreset = Code(.unknownPreset)
        public static let invalidEscape = Code(.invalidEscape)
        public static let invalidHex = Code(.invalidHex)
        public static let invalidDuration = Code(.invalidDuration)
        public static let invalidByteCount = Code(.invalidByteCount)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// For size errors, how many bytes were seen.
    public var byteCount: Int
    /// For size errors, the limit or expected size.
    public var limit: Int
    /// Free text naming the offending input.
    public var detail: String

    init(_ code: Code.Base, byteCount: Int = 0, limit: Int = 0, detail: String = "") {
        self.code = Code(code)
        self.byteCount = byteCount
        self.limit = limit
        self.detail = detail
    }

    public var description: String {
        switch code.base {
        case .frameTooLarge: return "frame exceeds \(ByteCount.format(limit))"
        case .incompleteFrame:
            return "stream ended inside a frame (got \(byteCount) bytes\(detail.isEmpty ? "" : ", \(detail)"))"
        case .payloadTooLargeForLength:
            return "payload of \(byteCount) bytes does not fit a length field (max \(limit))"
        case .wrongFixedLength: return "payload of \(byteCount) bytes, but the frame is fixed at \(limit)"
        default: return detail.isEmpty ? code.description : "\(code): \(detail)"
        }
    }
}
