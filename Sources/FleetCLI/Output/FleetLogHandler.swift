import FleetFraming
import Foundation
public import Logging

/// fleetcmd's log lines on stderr: one line per event, every value quoted and escaped where it needs it, so that no
/// logged value (a command a client sent, a peer's certificate name) can forge a field or a line.
///
/// ```
/// text:    2026-12-01T15:38:21.123Z info command client=127.0.0.1:5555 command="ECHO hi outcome=error" outcome=ok
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
            line += "\(level) \(quoted(message))"
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
        let plain = !value.isEmpty
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

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = time_t(now.tv_sec)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}
