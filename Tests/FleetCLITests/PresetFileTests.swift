import FleetFraming
import Testing

@testable import FleetCLI

@Suite struct PresetFileTests {
    @Test func aUserPresetSaysWhichCommandsGetNoReplyAndHowItsJobsStartAndEnd() throws {
        let yaml = """
            presets:
              - name: office-printer
                request: {suffix: "\\n"}
                reply: {end: "\\f"}
                job_start: "\\e%-12345X"
                job_end: "\\e%-12345X"
                replies_only_to: ["@PJL INFO", "@PJL ECHO"]
              - name: chatty
                request: {sis: true}
                reply: {end: "\\r\\n"}
                greeting: {end: "\\r\\n"}
                greeting_quiet: 150ms
                no_reply_to: ["SET"]
            """
        let presets = try PresetCatalog.parse(yaml, path: "presets.yaml")
        let printer = presets[0]
        #expect(printer.session.jobStart == DevicePreset.uel && printer.session.jobEnd == DevicePreset.uel)
        #expect(!printer.replies.expectsReply(Array("@PJL SET COPIES=2".utf8)))
        #expect(printer.replies.expectsReply(Array("@PJL INFO ID".utf8)))
        let chatty = presets[1]
        #expect(chatty.format.request == .sisCommand)
        #expect(chatty.session.greetingQuiet == .milliseconds(150))
        #expect(!chatty.replies.expectsReply(Array("SET A=1".utf8)) && chatty.replies.expectsReply(Array("GET".utf8)))
    }

    @Test func yamlThatDoesNotParseIsOneLineWithItsLine() {
        #expect(throws: PresetFileError.self) { try PresetCatalog.parse("presets: [\n", path: "p.yaml") }
        do {
            _ = try PresetCatalog.parse("presets:\n  - name: x\n  bad: [\n", path: "p.yaml")
            Issue.record("parsed")
        } catch {
            let text = "\(error)"
            #expect(!text.contains("\n"))
            #expect(text.hasPrefix("p.yaml:"))
            #expect(text.contains(": not valid YAML: "))
        }
    }

    @Test func contradictionsAndBadValuesAreOneLineErrorsWithTheirLine() {
        let cases: [(String, String)] = [
            ("no_reply_to: [A]\n    replies_only_to: [B]", "give no_reply_to or replies_only_to, not both"),
            ("greeting_quiet: 100ms", "greeting_quiet needs a greeting"),
            ("no_reply_to: A", "no_reply_to must be a list of commands"),
            ("greeting: {end: \"\\r\"}\n    greeting_quiet: forever", "greeting_quiet must be a duration"),
        ]
        for (extra, message) in cases {
            let yaml =
                "presets:\n  - name: x\n    request: {suffix: \"\\r\"}\n    reply: {end: \"\\r\"}\n    \(extra)\n"
            #expect {
                _ = try PresetCatalog.parse(yaml, path: "p.yaml")
            } throws: { error in
                "\(error)".hasPrefix("p.yaml:") && "\(error)".contains(message)
            }
        }
    }
}
