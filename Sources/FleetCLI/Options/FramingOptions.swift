import ArgumentParser
import FleetFraming

/// `--preset`, `--prefix`, `--suffix`, `--reply-end`: how requests and replies are framed.
struct FramingOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("Framing preset: \(FrameFormat.presetNames.joined(separator: ", ")).", valueName: "name"))
    var preset: String = "esc-cr"

    @Option(help: ArgumentHelp("Bytes before each command (escapes like \\x1b or hex:1b).", valueName: "bytes"))
    var prefix: String?

    @Option(
        help: ArgumentHelp(
            "Bytes after each command (escapes or hex:); an empty value adds nothing.", valueName: "bytes"))
    var suffix: String?

    @Option(
        help: ArgumentHelp(
            "Bytes that end a reply (escapes or hex:); an empty value reads until close or idle.", valueName: "bytes"))
    var replyEnd: String?

    /// The resolved frame format.
    func format() throws -> FrameFormat {
        do {
            return try FrameFormat.preset(named: preset).customized(
                prefix: try prefix.map(ByteEscapes.parse),
                suffix: try suffix.map(ByteEscapes.parse),
                replyEnd: try replyEnd.map(ByteEscapes.parse)
            )
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func validate() throws { _ = try format() }
}

/// `--connect-timeout`, `--reply-timeout`, `--total-timeout`, `--idle-timeout`.
struct TimeoutOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Limit for establishing the connection.", valueName: "duration"))
    var connectTimeout = DurationArgument(.seconds(5))

    @Option(help: ArgumentHelp("Limit for each reply.", valueName: "duration"))
    var replyTimeout = DurationArgument(.seconds(10))

    @Option(
        help: ArgumentHelp(
            "Limit for the whole conversation, connection included (default: none).", valueName: "duration"))
    var totalTimeout: DurationArgument?

    @Option(
        help: ArgumentHelp("For replies that end at close (raw): silence that ends a reply.", valueName: "duration"))
    var idleTimeout = DurationArgument(.milliseconds(500))
}
