import FleetAgent
import FleetCodec

/// The text or logfmt `command` line of an audit record whose values all stand bare (printable ASCII with no space,
/// `"`, `=` or `\`, no client identity): the agent's common line, written straight into raw memory with one bound
/// check per line instead of an array's capacity and uniqueness checks per piece.
///
/// Byte for byte what ``FleetLogHandler/renderAudit(_:logfmt:timestamp:journald:into:)`` writes for such a record
/// (a test holds them equal); a record with any other value takes that path.
enum AuditLineWriter {
    enum Outcome: Equatable {
        /// The line (with its newline) is written: this many bytes.
        case written(Int)
        /// A value does not stand bare, or there is a client identity: nothing is written.
        case notPlain
        /// The line might not fit in `capacity`: nothing is written.
        case noRoom
    }

    /// Writes the line (with its newline) at `base`, which has room for `capacity` bytes.
    static func write(
        _ record: AgentAuditRecord, logfmt: Bool, timestamp: [UInt8]?, journald: Bool,
        to base: UnsafeMutableRawPointer, capacity: Int
    ) -> Outcome {
        guard record.identity == nil else { return .notPlain }
        var name = record.commandName
        var text = record.commandText
        var peer = record.peer
        return name.withUTF8 { name in
            text.withUTF8 { text in
                peer.withUTF8 { peer -> Outcome in
                    guard FleetLogHandler.standsBare(name), FleetLogHandler.standsBare(text),
                        FleetLogHandler.standsBare(peer)
                    else { return .notPlain }
                    // The constant parts (at most 120 bytes), the id's digits, the duration, the values.
                    let bound =
                        120 + DecimalDigits.maxCount + AgentAuditRecord.maxDurationTextCount + (timestamp?.count ?? 0)
                        + name.count + text.count + peer.count
                    guard bound <= capacity else { return .noRoom }
                    var at = 0
                    func put(_ constant: StaticString) {
                        (base + at).copyMemory(from: constant.utf8Start, byteCount: constant.utf8CodeUnitCount)
                        at += constant.utf8CodeUnitCount
                    }
                    func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                        guard let start = bytes.baseAddress else { return }
                        (base + at).copyMemory(from: start, byteCount: bytes.count)
                        at += bytes.count
                    }
                    func put(_ byte: UInt8) {
                        base.storeBytes(of: byte, toByteOffset: at, as: UInt8.self)
                        at += 1
                    }
                    if journald { put("<6>") }
                    if let timestamp {
                        if logfmt { put("ts=") }
                        timestamp.withUnsafeBufferPointer { put($0) }
                        put(0x20)
                    }
                    put(logfmt ? "level=info msg=command command.name=" : "info command command.name=")
                    put(name)
                    put(" command.text=")
                    put(text)
                    put(" connection.id=")
                    at += DecimalDigits.write(Int64(record.connectionID), to: base + at)
                    put(" duration_ms=")
                    at += record.writeDurationText(to: base + at)
                    put(record.isError ? " outcome=error peer=" : " outcome=ok peer=")
                    put(peer)
                    put(0x0A)
                    return .written(at)
                }
            }
        }
    }
}
