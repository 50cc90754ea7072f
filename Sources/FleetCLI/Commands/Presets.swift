import ArgumentParser
import FleetFraming
import Foundation

/// `fleetcmd presets`: the device families and framings `--preset` accepts.
struct Presets: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presets",
        abstract: "List the device presets (built-in and your own) that --preset accepts.",
        discussion: """
            Each preset is data: default port, request and reply framing, a session before the first command \
            (greeting, handshake, login), connections per device, half-close policy, and the manual it follows \
            (docs/devices.md). Add your own in YAML: --presets FILE, $FLEETCMD_PRESETS, or \
            $XDG_CONFIG_HOME/fleetcmd/presets.yaml (~/.config/fleetcmd/presets.yaml); see docs/devices.md.
            """)

    @Option(help: ArgumentHelp("YAML file of your own presets.", valueName: "path"), completion: .file())
    var presets: String?

    @Option(
        name: .shortAndLong,
        help: "Output: text (a table), json (one document: an array) or jsonl (one object per preset per line).")
    var output = OutputFormat.text

    func validate() throws { try output.require([.text, .json, .jsonl], for: "presets") }

    struct Record: Encodable {
        var name: String
        var summary: String
        var port: Int
        var request: String
        var reply: String
        var session: String?
        /// Which commands get a reply: `every command`, `only @PJL INFO, …`, `all but …`.
        var replies: String
        var maxConnections: Int?
        var halfClose: String
        var source: String
    }

    func run() throws {
        let catalog: PresetCatalog
        do {
            catalog = try PresetCatalog.load(file: presets)
        } catch {
            Console.error("\(error)")
            throw ExitCode(ExitStatus.configInvalid)
        }
        let records = catalog.presets.map { preset in
            Record(
                name: preset.name, summary: preset.summary, port: preset.defaultPort,
                request: preset.format.request.description, reply: preset.format.reply.description,
                session: Self.describe(preset.session), replies: preset.replies.summary,
                maxConnections: preset.maxConnectionsPerDevice,
                halfClose: preset.halfClose.rawValue, source: preset.source)
        }
        if output.isJSON {
            let printer = JSONRecords(output)
            for record in records { printer.emit(record) }
            printer.finish()
            return
        }
        let header = ["NAME", "PORT", "REQUEST", "REPLY", "SESSION", "SUMMARY"]
        let rows = records.map {
            [$0.name, String($0.port), $0.request, $0.reply, $0.session ?? "-", $0.summary]
        }
        let widths = (0..<5).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            var line = ""
            for column in 0..<5 {
                line += row[column].padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0)
            }
            Console.out(line + row[5])
        }
        if let file = catalog.userFile { Console.out("(user presets from \(file))") }
    }

    static func describe(_ session: DevicePreset.Session) -> String? {
        var parts: [String] = []
        if let handshake = session.handshake { parts.append("handshake \(handshake.count) bytes") }
        if session.greeting != nil {
            parts.append(
                session.greetingQuiet.map { "greeting (lines until \(DurationText.format($0)) quiet)" } ?? "greeting")
        }
        if let authentication = session.authentication { parts.append("\(authentication.rawValue) login") }
        if !session.jobStart.isEmpty || !session.jobEnd.isEmpty {
            parts.append(
                "job \(FrameSpec.describeBytes(session.jobStart)) … \(FrameSpec.describeBytes(session.jobEnd))")
        }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}
