import FleetFraming
import NIOCore

/// One received command, read once: its bytes as the frame holds them (one trailing CR dropped: CR LF line endings
/// are tolerated), and its text when the bytes are valid UTF-8 with no control byte but TAB.
///
/// The bytes stay in the frame's buffer: most commands are routed by their text and audited as that text, so
/// nothing is copied out of the frame unless a route or the audit line needs the bytes themselves (``bytes``).
struct AgentCommand {
    /// The command's bytes, in the frame's storage (no copy).
    let payload: ByteBuffer
    /// The command as text; `nil` when it has a control byte or is not valid UTF-8.
    let text: String?
    /// Printable ASCII with no backslash: the audit line's escaped form (``ByteEscapes/render(_:keepLineBreaks:)``)
    /// is ``text`` as it stands.
    let isPlainASCII: Bool

    init(frame: ByteBuffer) {
        var payload = frame
        if payload.readableBytes > 0, payload.getInteger(at: payload.writerIndex - 1, as: UInt8.self) == 0x0D {
            payload.moveWriterIndex(to: payload.writerIndex - 1)
        }
        self.payload = payload
        (text, isPlainASCII) = payload.withUnsafeReadableBytes(Self.validText)
    }

    /// The command's bytes, copied out of the frame (one copy).
    var bytes: [UInt8] {
        payload.withUnsafeReadableBytes { raw in
            [UInt8](unsafeUninitializedCapacity: raw.count) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                initialized = raw.count
            }
        }
    }

    var isEmpty: Bool { payload.readableBytes == 0 }

    /// The command as the audit line shows it: escaped for display, at most 64 bytes and then `…`.
    var auditText: String {
        if isPlainASCII, payload.readableBytes <= Self.auditedBytes, let text { return text }
        let bytes = self.bytes
        return bytes.count > Self.auditedBytes
            ? ByteEscapes.render(bytes.prefix(Self.auditedBytes)) + "…" : ByteEscapes.render(bytes)
    }

    /// How much of a command the audit line shows.
    static let auditedBytes = 64

    /// `bytes` as text when valid UTF-8 with no control bytes but TAB (`nil` otherwise), and whether they are
    /// printable ASCII without a backslash.
    static func validText(_ bytes: UnsafeRawBufferPointer) -> (text: String?, isPlainASCII: Bool) {
        var isASCII = true
        var isPlain = true
        for byte in bytes {
            if (byte < 0x20 && byte != 0x09) || byte == 0x7F { return (nil, false) }
            if byte >= 0x80 { isASCII = false }
            if byte < 0x20 || byte >= 0x80 || byte == UInt8(ascii: "\\") { isPlain = false }
        }
        return bytes.withMemoryRebound(to: UInt8.self) { units in
            // ASCII is valid UTF-8 as it stands: `String(validating:)` looks up generic metadata on every call.
            if isASCII { return (String(decoding: units, as: UTF8.self), isPlain) }
            return (String(validating: units, as: UTF8.self), false)
        }
    }
}
