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
/// Under journald (`$JOURNAL_STREAM` set) the text format leaves out the time stamp and starts with the syslog
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

    public init(label: String, level: Logger.Level, format: Format = .text, environment: [String: String]? = nil) {
        self.label = label
        self.logLevel = level
        self.format = format
        self.underJournald = (environment ?? ProcessInfo.processInfo.environment)["JOURNAL_STREAM"] != nil
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.render(
            level: event.level, message: "\(event.message)", metadata: merged, format: format,
            timestamp: underJournald && format == .text ? nil : Self.timestamp(), journald: underJournald)
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// One log line (without its newline).
    public static func render(
        level: Logger.Level, message: String, metadata: Logger.Metadata, format: Format, timestamp: String?,
        journald: Bool = false
    ) -> String {
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var line = journald ? "<\(syslogPriority(level))>" : ""
            if let timestamp { line += timestamp + " " }
            line += "\(level) \(readable(message))"
            for key in keys { line += " \(safeKey(key))=\(quoted(text(metadata[key]!)))" }  // key from metadata
            return line
        case .logfmt:
            var line = journald ? "<\(syslogPriority(level))>" : ""
            if let timestamp { line += "ts=\(timestamp) " }
            line += "level=\(level) msg=\(quoted(message))"
            for key in keys { line += " \(safeKey(key))=\(quoted(text(metadata[key]!)))" }  // key from metadata
            return line
        case .json:
            var fields: [(String, String)] = []
            if let timestamp { fields.append(("ts", timestamp)) }
            fields.append(("level", "\(level)"))
            fields.append(("msg", message))
            for key in keys { fields.append((key, text(metadata[key]!))) }  // key from metadata
            return "{" + fields.map { "\(jsonString($0.0)):\(jsonString($0.1))" }.joined(separator: ",") + "}"
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

    /// A value as it stands in a line: bare when it is plain, else in double quotes with `"`, `\` and every control
    /// or non-ASCII-printable character escaped, so that a value never holds a space-separated `key=` or a newline.
    static func quoted(_ value: String) -> String {
        let plain =
            !value.isEmpty
            && value.unicodeScalars.allSatisfy { scalar in
                scalar.value > 0x20 && scalar.value < 0x7F && scalar != "\"" && scalar != "=" && scalar != "\\"
            }
        if plain { return value }
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                    out += "\\x" + (scalar.value < 16 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A message as the text format shows it: as written (messages are constant text), but never with a line break
    /// or a control character in it.
    static func readable(_ message: String) -> String {
        guard message.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return message }
        let escaped = quoted(message)
        return String(escaped.dropFirst().dropLast())
    }

    /// Keys are ours (constant text); anything unexpected in one is replaced so it cannot split a line.
    static func safeKey(_ key: String) -> String {
        String(key.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" ? $0 : "_" })
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
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
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
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(milliseconds, 3))Z"
    }
}
