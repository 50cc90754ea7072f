import ArgumentParser
import FleetFraming
import Foundation

/// How replies and frames are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// Terminal-safe text: control and invalid bytes escaped as `\xNN`; newlines and tabs kept.
    case text
    /// A `hexdump -C` style dump.
    case hex
    /// One JSON object per line.
    case json
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
