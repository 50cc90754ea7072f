/// The parsers of user files, reachable from the libFuzzer target `FleetParsersFuzz` (a separate executable, so
/// they stay internal to this module otherwise). Each takes text and throws or returns; nothing else.
public enum FuzzingEntryPoints {
    /// User presets YAML (`--presets FILE`).
    public static func presets(_ yaml: String) {
        _ = try? PresetCatalog.parse(yaml, path: "fuzz.yaml")
    }
}
