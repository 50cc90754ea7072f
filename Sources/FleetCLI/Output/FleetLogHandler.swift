import FleetAgent
import FleetCodec
import FleetFraming
import Foundation
public import Logging

/// fleetcmd's log lines on stderr: one line per event, every value quoted and escaped where it needs it, so that no
/// logged value (a command a client sent, a peer's certificate name) can forge a field or a line.
///
/// ```
/// text:    2026-12-01T15:38:21.123Z info command client=127.0.0.1:5555 command="ECHO hi outcome=error" outcome=ok
///          2026-12-01T15:38:22.001Z info connection denied by the access list peer=10.9.0.4:50122
/// logfmt:  ts=2026-12-01T15:38:21.123Z level=info msg=command client=127.0.0.1:5555 command="ECHO hi outcome=error"
/// json:    {"ts":"2026-12-01T15:38:21.123Z","level":"info","msg":"command","client":"127.0.0.1:5555",…}
/// ```
///
/// Under journald (`$JOURNAL_STREAM` names standard error's stream) the text format leaves out the time stamp and starts with the syslog
/// priority (`<6>`), which journald turns into the entry's level.
public struct FleetLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text, logfmt, json
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let format: Format
    private let label: String
    private let underJournald: Bool
    private let sink: LogSink

    /// - Parameter sink: where lines go; standard error through a writer thread of its own (``LogSink``).
    init(
        label: String, level: Logger.Level, format: Format = .text, environment: [String: String]? = nil,
        sink: LogSink
    ) {
        self.label = label
        self.logLevel = level
        self.format = format
        let underJournald = JournalStream.isStandardError(environment ?? ProcessEnvironment.variables)
        self.underJournald = underJournald
        self.sink = sink
        sink.droppedNotice = { count in
            var line: [UInt8] = []
            Self.render(
                level: .warning, message: "log lines dropped because the log output could not keep up",
                metadata: ["count": .string(String(count))], format: format,
                timestamp: underJournald && format == .text ? nil : Self.timestampBytes(), journald: underJournald,
                into: &line)
            line.append(0x0A)
            return line
        }
    }

    public init(label: String, level: Logger.Level, format: Format = .text, environment: [String: String]? = nil) {
        self.init(label: label, level: level, format: format, environment: environment, sink: .standardError)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        let timestamp = underJournald && format == .text ? nil : Self.timestampBytes()
        if metadata.isEmpty {
            Self.render(
                level: event.level, message: event.message.description, metadata: event.metadata ?? [:],
                format: format, timestamp: timestamp, journald: underJournald, into: &line)
        } else {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { _, new in new } }
            Self.render(
                level: event.level, message: event.message.description, metadata: merged, format: format,
                timestamp: timestamp, journald: underJournald, into: &line)
        }
        line.append(0x0A)
        sink.append(line)
    }

    /// One log line (without its newline).
    public static func render(
        level: Logger.Level, message: String, metadata: Logger.Metadata, format: Format, timestamp: String?,
        journald: Bool = false
    ) -> String {
        var line: [UInt8] = []
        render(
            level: level, message: message, metadata: metadata, format: format,
            timestamp: timestamp.map { Array($0.utf8) },
            journald: journald, into: &line)
        return String(decoding: line, as: UTF8.self)
    }

    /// One log line (without its newline), appended to `out` as UTF-8 without going through `String` concatenation:
    /// the audit line is written once per command, so this is on the agent's hot path.
    static func render(
        level: Logger.Level, message: String, metadata: Logger.Metadata, format: Format, timestamp: [UInt8]?,
        journald: Bool, into out: inout [UInt8]
    ) {
        let keys = metadata.count < 2 ? Array(metadata.keys) : metadata.keys.sorted()
        render(
            level: level, message: message, fields: keys.map { ($0, text(metadata[$0]!)) }, format: format,
            timestamp: timestamp, journald: journald, into: &out)
    }

    /// One log line from fields already in order (sorted by name, as every line writes them).
    static func render(
        level: Logger.Level, message: String, fields: [(String, String)], format: Format, timestamp: [UInt8]?,
        journald: Bool, into out: inout [UInt8]
    ) {
        if journald {
            out.append(UInt8(ascii: "<"))
            out.append(UInt8(ascii: "0") + UInt8(syslogPriority(level)))
            out.append(UInt8(ascii: ">"))
        }
        switch format {
        case .text:
            if let timestamp {
                out += timestamp
                out.append(0x20)
            }
            out += level.rawValue.utf8
            out.append(0x20)
            appendReadable(message, to: &out)
            appendFields(fields, to: &out)
        case .logfmt:
            if let timestamp {
                out += "ts=".utf8
                out += timestamp
                out.append(0x20)
            }
            out += "level=".utf8
            out += level.rawValue.utf8
            out += " msg=".utf8
            appendQuoted(message, to: &out)
            appendFields(fields, to: &out)
        case .json:
            out.append(UInt8(ascii: "{"))
            if let timestamp {
                out += #""ts":""#.utf8
                out += timestamp
                out += #"","#.utf8
            }
            out += #""level":""#.utf8
            out += level.rawValue.utf8
            out += #"","msg":"#.utf8
            out += JSONText.quoted(message).utf8
            for (key, value) in fields {
                out.append(UInt8(ascii: ","))
                out += JSONText.quoted(key).utf8
                out.append(UInt8(ascii: ":"))
                out += JSONText.quoted(value).utf8
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// ` key=value` for each field (text and logfmt).
    private static func appendFields(_ fields: [(String, String)], to out: inout [UInt8]) {
        for (key, value) in fields {
            out.append(0x20)
            appendKey(key, to: &out)
            out.append(UInt8(ascii: "="))
            appendQuoted(value, to: &out)
        }
    }

    /// The text or logfmt `command` line of `record`, byte for byte as ``render(level:message:fields:format:timestamp:journald:into:)``
    /// writes it from ``AgentAuditRecord/fields``, without a metadata dictionary or an array of fields.
    static func renderAudit(
        _ record: AgentAuditRecord, logfmt: Bool, timestamp: [UInt8]?, journald: Bool, into out: inout [UInt8]
    ) {
        if journald { append("<6>", to: &out) }
        if let timestamp {
            if logfmt { append("ts=", to: &out) }
            out += timestamp
            out.append(0x20)
        }
        append(logfmt ? "level=info msg=command" : "info command", to: &out)
        if let identity = record.identity {
            append(" client.identity=", to: &out)
            appendQuoted(identity, to: &out)
        }
        append(" command.name=", to: &out)
        appendQuoted(record.commandName, to: &out)
        append(" command.text=", to: &out)
        appendQuoted(record.commandText, to: &out)
        append(" connection.id=", to: &out)
        appendDecimal(record.connectionID, to: &out)
        append(" duration_ms=", to: &out)
        record.appendDurationText(to: &out)
        append(record.isError ? " outcome=error peer=" : " outcome=ok peer=", to: &out)
        appendQuoted(record.peer, to: &out)
    }

    /// A constant's bytes, copied whole (appending a `String`'s UTF-8 view goes byte by byte).
    private static func append(_ text: StaticString, to out: inout [UInt8]) {
        text.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// A non-negative number's decimal digits, without making a `String`.
    private static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(byteCount: DecimalDigits.maxCount, alignment: 1) { buffer in
            let count = DecimalDigits.write(Int64(value), to: buffer.baseAddress!)  // it has an address
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return text
        case .stringConvertible(let convertible): return convertible.description
        case .array(let items): return "[" + items.map { text($0) }.joined(separator: ", ") + "]"
        case .dictionary(let entries):
            return "[" + entries.keys.sorted().map { "\($0): \(text(entries[$0]!))" }.joined(separator: ", ") + "]"
        }
    }

    /// A value as it stands in a line: bare when it is plain, else in double quotes with `"`, `\\` and every control or
    /// non-ASCII-printable character escaped, so that a value never holds a space-separated `key=` or a newline.
    static func quoted(_ value: String) -> String {
        var out: [UInt8] = []
        appendQuoted(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func isPlain(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "=")
            && byte != UInt8(ascii: "\\")
    }

    /// Whether a value stands bare in a line (``appendQuoted(_:to:)`` writes it as it is): not empty, every byte
    /// printable ASCII other than space, `"`, `=` and `\`.
    static func standsBare(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        for byte in bytes where !isPlain(byte) { return false }
        return true
    }

    static func appendQuoted(_ value: String, to out: inout [UInt8]) {
        var value = value
        let plain = value.withUTF8 { bytes in
            guard standsBare(bytes) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain { return }
        out.append(UInt8(ascii: "\""))
        appendEscaped(value, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// `value`'s characters with `"`, `\\` and every control or C1 character escaped (no surrounding quotes).
    private static func appendEscaped(_ value: String, to out: inout [UInt8]) {
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += #"\""#.utf8
            case "\\": out += #"\\"#.utf8
            case "\n": out += #"\n"#.utf8
            case "\r": out += #"\r"#.utf8
            case "\t": out += #"\t"#.utf8
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    out += #"\x"#.utf8
                    out.append(hex[Int(scalar.value >> 4)])
                    out.append(hex[Int(scalar.value & 0xF)])
                } else {
                    out += String(scalar).utf8
                }
            }
        }
    }

    /// A message as the text format shows it: as written (messages are constant text), but never with a line break
    /// or a control character in it.
    static func readable(_ message: String) -> String {
        var out: [UInt8] = []
        appendReadable(message, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendReadable(_ message: String, to out: inout [UInt8]) {
        if message.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) {
            out += message.utf8
        } else {
            appendEscaped(message, to: &out)
        }
    }

    /// Keys are ours (constant text); anything unexpected in one is replaced so it cannot split a line.
    static func safeKey(_ key: String) -> String {
        var out: [UInt8] = []
        appendKey(key, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default: return false
        }
    }

    private static func appendKey(_ key: String, to out: inout [UInt8]) {
        var key = key
        let plain = key.withUTF8 { bytes in
            for byte in bytes where !isKeyByte(byte) { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain { return }
        for character in key {
            if character.isLetter || character.isNumber || character == "." || character == "_" || character == "-" {
                out += String(character).utf8
            } else {
                out.append(UInt8(ascii: "_"))
            }
        }
    }

    static func jsonString(_ value: String) -> String { JSONText.quoted(value) }

    /// RFC 5424 severities, as journald reads them from a `<N>` prefix.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// UTC time to the millisecond, `2026-12-01T15:38:21.123Z` (days to a civil date as in Howard Hinnant's
    /// `civil_from_days`, so no calendar or locale is loaded for a log line).
    static func timestamp(_ date: Date = Date()) -> String {
        String(
            decoding: timestampBytes(millisecondsSince1970: Int64((date.timeIntervalSince1970 * 1000).rounded())),
            as: UTF8.self)
    }

    /// The current time as ``timestamp(_:)`` writes it, as UTF-8.
    static func timestampBytes() -> [UInt8] {
        timestampBytes(millisecondsSince1970: millisecondsNow())
    }

    /// Milliseconds since 1970 (the wall clock, as time stamps show it).
    static func millisecondsNow() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }

    static func timestampBytes(millisecondsSince1970 totalMilliseconds: Int64) -> [UInt8] {
        let milliseconds = Int(((totalMilliseconds % 1000) + 1000) % 1000)
        let totalSeconds = (totalMilliseconds - Int64(milliseconds)) / 1000
        var days = Int(totalSeconds / 86_400)
        var secondOfDay = Int(totalSeconds % 86_400)
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        var out: [UInt8] = []
        out.reserveCapacity(24)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = max(0, value)
            if rest / divisor >= 10 {  // a year past 9999: all its digits
                out += String(rest).utf8
                return
            }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        out.append(UInt8(ascii: "."))
        digits(milliseconds, 3)
        out.append(UInt8(ascii: "Z"))
        return out
    }
}
