import ArgumentParser
import FleetFraming

/// `--preset`, `--prefix`, `--suffix`, `--reply-end`: how requests and replies are framed.
struct FramingOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Device preset (`fleetcmd presets` lists them): framing, port, session. Default: esc-cr.",
            valueName: "name"))
    var preset: String = "esc-cr"

    @Option(help: ArgumentHelp("YAML file of your own presets (see `fleetcmd presets`).", valueName: "path"))
    var presets: String?

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

    /// The chosen device preset (built-in or from the presets file).
    func devicePreset() throws -> DevicePreset {
        do {
            return try PresetCatalog.load(file: presets).preset(named: preset)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The resolved frame format.
    func format() throws -> FrameFormat { try format(for: devicePreset()) }

    /// `preset`'s framing with the `--prefix/--suffix/--reply-end` adjustments (for a preset already looked up).
    func format(for preset: DevicePreset) throws -> FrameFormat {
        let base = preset.format
        do {
            return base.customized(
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
