import ArgumentParser
import FleetFraming

/// `--preset`, `--presets`: which device family (also `probe`'s, for the port).
struct PresetOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Device preset (`fleetcmd presets` lists them): framing, port, session.",
            valueName: "name"), completion: PresetOptions.presetNames)
    var preset: String = PresetOptions.defaultPreset

    @Option(
        help: ArgumentHelp("YAML file of your own presets (see `fleetcmd presets`).", valueName: "path"),
        completion: .file())
    var presets: String?

    /// The preset when none is given: the article's devices.
    static let defaultPreset = "esc-cr"

    /// Shell completion for `--preset`: the built-in presets and the user's (from the default presets file).
    static let presetNames = CompletionKind.custom { _, _, _ in
        ((try? PresetCatalog.load(file: nil).presets) ?? DevicePreset.builtins).map(\.name)
    }

    /// The chosen device preset (built-in or from the presets file).
    func devicePreset() throws -> DevicePreset { try Self.devicePreset(named: preset, file: presets) }

    /// The preset called `name`, built-in or from the presets `file` (`nil`: the user's default presets file).
    static func devicePreset(named name: String, file: String?) throws -> DevicePreset {
        do {
            return try PresetCatalog.load(file: file).preset(named: name)
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
        try Self.format(for: preset, prefix: prefix, suffix: suffix, replyEnd: replyEnd)
    }

    /// `preset`'s framing with the `--prefix/--suffix/--reply-end` values given (`nil`: the preset's).
    static func format(
        for preset: DevicePreset, prefix: String?, suffix: String?, replyEnd: String?
    ) throws
        -> FrameFormat
    {
        do {
            return preset.format.customized(
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
