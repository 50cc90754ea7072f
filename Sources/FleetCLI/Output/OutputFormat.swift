import ArgumentParser
import FleetFraming
import Foundation
import NIOConcurrencyHelpers

/// How a command prints its data (`-o/--output`), the same names everywhere.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Terminal-safe text: control and invalid bytes escaped as `\xNN`; newlines and tabs kept.
    case text
    /// A `hexdump -C` style dump (commands that print bytes: send, listen, watch).
    case hex
    /// One JSON document: an array of the command's records (printed once they are all known).
    case json
    /// One JSON object per line, each as soon as it is known.
    case jsonl

    var isJSON: Bool { self == .json || self == .jsonl }

    /// Refuses a format the command has nothing to show in (`probe -o hex`): a usage error, never ignored.
    func require(_ allowed: [OutputFormat], for command: String) throws {
        guard !allowed.contains(self) else { return }
        throw ValidationError(
            "-o \(rawValue) means nothing for \(command): use \(allowed.map(\.rawValue).joined(separator: ", "))")
    }
}

/// Records printed as `-o` says: with `jsonl` each goes out as it comes, one object per line; with `json` they are
/// kept and go out as one document, an array (`[]` when there are none), at ``finish()``. Thread-safe: listeners
/// emit from their event loops.
final class JSONRecords: @unchecked Sendable {  // `kept` is guarded by `lock`
    let format: OutputFormat
    private let lock = NIOLock()
    private var kept: [String] = []

    init(_ format: OutputFormat) { self.format = format }

    func emit(_ record: some Encodable) {
        let line = Render.json(record)
        if format == .jsonl {
            Console.out(line)
        } else {
            lock.withLock { kept.append(line) }
        }
    }

    /// Prints the document (`json`); nothing for `jsonl`, whose records are out already.
    func finish() {
        guard format == .json else { return }
        let lines = lock.withLock { kept }
        Console.out(lines.isEmpty ? "[]" : "[\n" + lines.joined(separator: ",\n") + "\n]")
    }
}

enum Render {
    /// Text for a terminal or a pipe: like ``ByteEscapes/render(_:)`` but keeping LF and TAB, so multi-line
    /// replies read naturally. CR, ESC, NUL and every other control byte stay escaped.
    static func text(_ bytes: some Collection<UInt8>) -> String {
        ByteEscapes.render(bytes, keepLineBreaks: true)
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// One JSON object on one line.
    static func json(_ value: some Encodable) -> String {
        // Encoding plain structs of strings and numbers cannot fail.
        String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    static func timestamp(_ date: Date = Date()) -> String {
        date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
