import FleetFraming
import FleetYAML
import Foundation
import Yams

/// The presets a command can use: the built-ins, then the user's (`--presets FILE`, `$FLEETCMD_PRESETS`, or
/// `$XDG_CONFIG_HOME/fleetcmd/presets.yaml`, by default `~/.config/fleetcmd/presets.yaml`). A user preset with a
/// built-in's name replaces it.
///
/// ```yaml
/// presets:
///   - name: acme-plc
///     summary: ACME PLC service port
///     port: 5020
///     request: {prefix: "\x02", suffix: "\x03"}     # escapes or hex:..
///     reply: {end: "\x03"}                          # or {end: "\r\n", count: 3}, {length: 2}, {fixed: 4}, {close: true}
///     half_close: never                             # auto | always | never
///     max_connections: 1
///     greeting: {end: "\r"}                         # the device speaks first: one frame
///     greeting_quiet: 200ms                         # ... and more frames until it is quiet this long
///     handshake: {send: "hex:0102", expect: "hex:06"}
///     job_start: "\e%-12345X"                       # before the first command
///     job_end: "\e%-12345X"                         # after the last command
///     no_reply_to: ["SET", "RESET"]                 # commands (by first words, any case) that get no reply
///     # or: replies_only_to: ["GET", "INFO"]        # only these get a reply
///     source: "ACME PLC protocol manual, section 4"
/// ```
///
/// `request: {sis: true}` is Extron SIS command framing (basic commands plain, ESC commands ending CR).
struct PresetCatalog {
    var presets: [DevicePreset]
    /// Where the user presets came from, if anywhere.
    var userFile: String?

    static func load(file explicit: String?) throws -> PresetCatalog {
        var catalog = PresetCatalog(presets: DevicePreset.builtins, userFile: nil)
        let environment = ProcessEnvironment.variables
        let configHome = environment["XDG_CONFIG_HOME"] ?? (HomeDirectory.path(environment) + "/.config")
        let path = explicit ?? environment["FLEETCMD_PRESETS"] ?? configHome + "/fleetcmd/presets.yaml"
        guard explicit != nil || FileManager.default.fileExists(atPath: path) else { return catalog }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PresetFileError("cannot read presets file \(path)")
        }
        for preset in try parse(String(decoding: data, as: UTF8.self), path: path) {
            catalog.presets.removeAll { $0.name == preset.name }
            catalog.presets.append(preset)
        }
        catalog.userFile = path
        return catalog
    }

    /// The preset called `name`: a user or built-in preset, or a generic framing (`fixed:N`, aliases).
    func preset(named name: String) throws -> DevicePreset {
        if let preset = presets.first(where: { $0.name == name }) { return preset }
        if let preset = DevicePreset.builtin(named: name) { return preset }
        throw PresetFileError(
            "unknown preset '\(name)' (see `fleetcmd presets`: \(presets.map(\.name).joined(separator: ", ")), fixed:N)"
        )
    }

    static func parse(_ yaml: String, path: String) throws -> [DevicePreset] {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw PresetFileError(YAMLErrorText.describe(error, path: path))
        }
        guard case .mapping(let top)? = root, let list = top["presets"], case .sequence(let items) = list else {
            throw PresetFileError("\(path): expected a top-level 'presets:' list")
        }
        return try items.map { item in
            let line = (item.mark?.line).map { "\(path):\($0)" } ?? path
            do {
                return try preset(from: item)
            } catch let error as PresetFileError {
                throw PresetFileError("\(line): \(error.description)")
            }
        }
    }

    private static func preset(from node: Node) throws -> DevicePreset {
        guard case .mapping(let map) = node else { throw PresetFileError("each preset is a mapping") }
        let known: Set<String> = [
            "name", "summary", "port", "request", "reply", "half_close", "max_connections", "greeting", "handshake",
            "source", "greeting_quiet", "job_start", "job_end", "no_reply_to", "replies_only_to",
        ]
        for key in map.keys.compactMap(\.string) where !known.contains(key) {
            throw PresetFileError("unknown key '\(key)' (expected \(known.sorted().joined(separator: ", ")))")
        }
        guard let name = map["name"]?.string, !name.isEmpty else { throw PresetFileError("a preset needs a name") }
        guard let requestNode = map["request"], let replyNode = map["reply"] else {
            throw PresetFileError("preset \(name) needs request and reply")
        }
        let request = try spec(requestNode, what: "request", isRequest: true)
        let reply = try spec(replyNode, what: "reply", isRequest: false)
        var preset = DevicePreset(
            name: name, summary: map["summary"]?.string ?? "user preset",
            format: FrameFormat(name: name, request: request, reply: reply), source: map["source"]?.string ?? "")
        if let port = map["port"] {
            guard let value = port.scalar.flatMap({ YAMLInteger.parse($0.string) }), (1...65535).contains(value) else {
                throw PresetFileError("port must be 1-65535")
            }
            preset.defaultPort = value
        }
        if let text = map["half_close"]?.string {
            guard let value = DevicePreset.HalfClose(rawValue: text) else {
                throw PresetFileError("half_close must be auto, always or never")
            }
            preset.halfClose = value
        }
        if let limit = map["max_connections"] {
            guard let value = limit.scalar.flatMap({ YAMLInteger.parse($0.string) }), value > 0 else {
                throw PresetFileError("max_connections must be positive")
            }
            preset.maxConnectionsPerDevice = value
        }
        if let greeting = map["greeting"] {
            preset.session.greeting = try spec(greeting, what: "greeting", isRequest: false)
        }
        if let handshake = map["handshake"] {
            guard case .mapping(let hs) = handshake, let send = hs["send"]?.string, let expect = hs["expect"]?.string
            else { throw PresetFileError("handshake needs send and expect (escapes or hex:..)") }
            preset.session.handshake = try bytes(send, what: "handshake send")
            preset.session.handshakeReply = try bytes(expect, what: "handshake expect").map { Optional($0) }
        }
        if let quiet = map["greeting_quiet"] {
            guard preset.session.greeting != nil else { throw PresetFileError("greeting_quiet needs a greeting") }
            guard let text = quiet.string, let value = try? DurationText.parse(text), value > .zero,
                value <= .seconds(10)
            else {
                throw PresetFileError("greeting_quiet must be a duration from 1ms to 10s (like 200ms)")
            }
            preset.session.greetingQuiet = value
        }
        for (key, what) in [("job_start", "job_start"), ("job_end", "job_end")] {
            guard let node = map[key] else { continue }
            guard let text = node.string else { throw PresetFileError("\(key) must be text (escapes or hex:..)") }
            let value = try bytes(text, what: what)
            if key == "job_start" { preset.session.jobStart = value } else { preset.session.jobEnd = value }
        }
        switch (map["no_reply_to"], map["replies_only_to"]) {
        case (.some, .some):
            throw PresetFileError("give no_reply_to or replies_only_to, not both")
        case (let node?, nil):
            preset.replies = .except(try commandNames(node, key: "no_reply_to"))
        case (nil, let node?):
            preset.replies = .only(try commandNames(node, key: "replies_only_to"))
        case (nil, nil):
            break
        }
        return preset
    }

    /// A list of command names (texts of words, like `@PJL INFO`).
    private static func commandNames(_ node: Node, key: String) throws -> [String] {
        guard case .sequence(let items) = node else { throw PresetFileError("\(key) must be a list of commands") }
        return try items.map { item in
            guard let text = item.string, !DevicePreset.ReplyRule.words(text).isEmpty else {
                throw PresetFileError("\(key): each entry is a command's first words, like \"@PJL INFO\"")
            }
            return text
        }
    }

    private static func spec(_ node: Node, what: String, isRequest: Bool) throws -> FrameSpec {
        guard case .mapping(let map) = node else { throw PresetFileError("\(what) must be a mapping") }
        if let length = map["length"] {
            guard let width = length.scalar.flatMap({ YAMLInteger.parse($0.string) }), width == 2 || width == 4 else {
                throw PresetFileError("\(what) length must be 2 or 4 (bytes of the prefix)")
            }
            return .lengthPrefixed(width: width)
        }
        if let fixed = map["fixed"] {
            guard let count = fixed.scalar.flatMap({ YAMLInteger.parse($0.string) }), count > 0 else {
                throw PresetFileError("\(what) fixed must be positive")
            }
            return .fixedLength(count)
        }
        if map["close"]?.bool == true { return .untilClose }
        if map["sis"]?.bool == true {
            guard isRequest else { throw PresetFileError("sis is a request framing") }
            return .sisCommand
        }
        let prefix = try map["prefix"]?.string.map { try bytes($0, what: "\(what) prefix") } ?? []
        let endKey = isRequest ? "suffix" : "end"
        let end =
            try (map[endKey] ?? map["end"] ?? map["suffix"])?.string.map { try bytes($0, what: "\(what) \(endKey)") }
            ?? []
        let count = map["count"]?.scalar.flatMap({ YAMLInteger.parse($0.string) }) ?? 1
        guard count >= 1 else { throw PresetFileError("\(what) count must be 1 or more") }
        return .delimited(prefix: prefix, terminator: end, count: count)
    }

    private static func bytes(_ text: String, what: String) throws -> [UInt8] {
        do {
            return try ByteEscapes.parse(text)
        } catch {
            throw PresetFileError("\(what): \(error)")
        }
    }
}

struct PresetFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
