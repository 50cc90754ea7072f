import ArgumentParser
import FleetFraming
import Foundation

/// A command-line duration: `500ms`, `3s`, `2m`, `1h`, or a bare number of seconds.
struct DurationArgument: ExpressibleByArgument, CustomStringConvertible {
    var value: Duration

    init(_ value: Duration) { self.value = value }

    init?(argument: String) {
        guard let parsed = try? DurationText.parse(argument) else { return nil }
        value = parsed
    }

    var description: String { DurationText.format(value) }
    var defaultValueDescription: String { description }
}

/// A command-line byte size: `4096`, `4KiB`, `1MiB`.
struct ByteCountArgument: ExpressibleByArgument, CustomStringConvertible {
    var value: Int

    init(_ value: Int) { self.value = value }

    init?(argument: String) {
        guard let parsed = try? ByteCount.parse(argument) else { return nil }
        value = parsed
    }

    var description: String { ByteCount.format(value).replacingOccurrences(of: " ", with: "") }
    var defaultValueDescription: String { description }
}
