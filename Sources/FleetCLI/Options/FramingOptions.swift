import ArgumentParser
import FleetFraming

/// `--preset`, `--presets`: which device family (also `probe`'s, for the port).
struct PresetOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Device preset (`fleetcmd presets` lists them): framing, port, session.",
            valueName: "name"), completion: PresetOptions.presetNames)
    var preset: String = "esc-cr"

    @Option(
        help: ArgumentHelp("YAML file of your own presets (see `fleetcmd presets`).", valueName: "path"),
        completion: .file())
    var presets: String?

    /// Shell completion for `--preset`: the built-in presets and the user's (from the default presets file).
    static let presetNames = CompletionKind.custom { _, _, _ in
        ((try? PresetCatalog.load(file: nil).presets) ?? DevicePreset.builtins).map(\.name)
    }

    /// The chosen device preset (built-in or from the presets file).
    func devicePreset() throws -> DevicePreset {
        do {
            return try PresetCatalog.load(file: presets).preset(named: preset)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// The preset and `--prefix`, `--suffix`, `--reply-end`: how requests and replies are framed.
struct FramingOptions: ParsableArguments {
    @OptionGroup var presetOptions: PresetOptions

    var preset: String { presetOptions.preset }
    var presets: String? { presetOptions.presets }

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
    func devicePreset() throws -> DevicePreset { try presetOptions.devicePreset() }

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
