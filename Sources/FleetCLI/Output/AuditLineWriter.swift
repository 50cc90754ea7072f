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

    /// The last command name and peer found to stand bare: the lines of a batch mostly share them (one connection,
    /// a few routes), and a string compared with itself is equal at once, so they are not checked byte by byte again.
    struct KnownBare {
        var name: String?
        var peer: String?
    }

    /// Writes the line (with its newline) at `base`, which has room for `capacity` bytes; `known` remembers the
    /// name and peer that stood bare, for the next line.
    static func write(
        _ record: AgentAuditRecord, logfmt: Bool, timestamp: [UInt8]?, journald: Bool,
        to base: UnsafeMutableRawPointer, capacity: Int, known: inout KnownBare
    ) -> Outcome {
        guard record.identity == nil else { return .notPlain }
        var name = record.commandName
        var text = record.commandText
        var peer = record.peer
        let nameKnown = known.name == name
        let peerKnown = known.peer == peer
        let outcome = name.withUTF8 { name in
            text.withUTF8 { text in
                peer.withUTF8 { peer -> Outcome in
                    guard nameKnown || FleetLogHandler.standsBare(name), FleetLogHandler.standsBare(text),
                        peerKnown || FleetLogHandler.standsBare(peer)
                    else { return .notPlain }
                    // The constant parts (at most 120 bytes), the id's digits, the duration, the values.
                    let bound =
                        120 + DecimalDigits.maxCount + AgentAuditRecord.maxDurationTextCount + (timestamp?.count ?? 0)
                        + name.count + text.count + peer.count
                    guard bound <= capacity else { return .noRoom }
                    var out = Cursor(base: base)
                    if journald { out.put("<6>") }
                    if let timestamp {
                        if logfmt { out.put("ts=") }
                        timestamp.withUnsafeBufferPointer { out.put($0) }
                        out.put(0x20)
                    }
                    out.put(logfmt ? "level=info msg=command command.name=" : "info command command.name=")
                    out.put(name)
                    out.put(" command.text=")
                    out.put(text)
                    out.put(" connection.id=")
                    out.at += DecimalDigits.write(Int64(record.connectionID), to: base + out.at)
                    out.put(" duration_ms=")
                    out.at += record.writeDurationText(to: base + out.at)
                    out.put(record.isError ? " outcome=error peer=" : " outcome=ok peer=")
                    out.put(peer)
                    out.put(0x0A)
                    return .written(out.at)
                }
            }
        }
        if case .written = outcome {
            if !nameKnown { known.name = name }
            if !peerKnown { known.peer = peer }
        }
        return outcome
    }

    /// Where the line is being written: a value passed `inout`, so that every write is checked for exclusive access
    /// when compiled (nested functions capturing a counter were checked at run time, 3% of the agent's CPU).
    private struct Cursor {
        let base: UnsafeMutableRawPointer
        var at = 0

        mutating func put(_ constant: StaticString) {
            (base + at).copyMemory(from: constant.utf8Start, byteCount: constant.utf8CodeUnitCount)
            at += constant.utf8CodeUnitCount
        }

        mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
            guard let start = bytes.baseAddress else { return }
            (base + at).copyMemory(from: start, byteCount: bytes.count)
            at += bytes.count
        }

        mutating func put(_ byte: UInt8) {
            base.storeBytes(of: byte, toByteOffset: at, as: UInt8.self)
            at += 1
        }
    }
}
