import Foundation
import Logging
import Testing

@testable import FleetCLI

@Suite struct LogLineTests {
    @Test func valuesThatCouldForgeAFieldAreQuoted() {
        let line = FleetLogHandler.render(
            level: .info, message: "command",
            metadata: ["command": "ECHO hi outcome=error", "outcome": "ok", "client": "127.0.0.1:5"], format: .text,
            timestamp: "T")
        #expect(line == #"T info command client=127.0.0.1:5 command="ECHO hi outcome=error" outcome=ok"#)
        let newline = FleetLogHandler.render(
            level: .info, message: "command", metadata: ["command": "A\nfake=1 \"x\""], format: .logfmt, timestamp: nil)
        #expect(newline == #"level=info msg=command command="A\nfake=1 \"x\"""#)
        #expect(!newline.contains("\n"))
        let sentence = FleetLogHandler.render(
            level: .info, message: "connection denied by the access list", metadata: ["peer": "10.0.0.1:5"],
            format: .text, timestamp: nil)
        #expect(sentence == "info connection denied by the access list peer=10.0.0.1:5")
    }

    @Test func jsonLinesAreOneObject() {
        let line = FleetLogHandler.render(
            level: .warning, message: "x \"y\"", metadata: ["k": "a\u{1}b"], format: .json, timestamp: "T")
        #expect(line == #"{"ts":"T","level":"warning","msg":"x \"y\"","k":"a\u0001b"}"#)
    }

    @Test func underJournaldTheLevelIsAPriorityAndThereIsNoTimestamp() {
        let line = FleetLogHandler.render(
            level: .error, message: "m", metadata: [:], format: .text, timestamp: nil, journald: true)
        #expect(line == "<3>error m")
    }

    @Test func timestampsAreUTCToTheMillisecond() {
        #expect(FleetLogHandler.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(FleetLogHandler.timestamp(Date(timeIntervalSince1970: 1_796_139_948.123)) == "2026-12-01T15:45:48.123Z")
        #expect(FleetLogHandler.timestamp(Date(timeIntervalSince1970: 951_782_400.5)) == "2000-02-29T00:00:00.500Z")
    }

    @Test func passwordsAreLeftOutOfJournaledArguments() {
        let (kept, redacted) = PasswordOptions.redacting(["-i", "x", "--password", "pw", "--password=pw2", "STATUS"])
        #expect(kept == ["-i", "x", "STATUS"])
        #expect(redacted)
        #expect(PasswordOptions.redacting(["-i", "x", "STATUS"]).redacted == false)
    }
}

@Suite struct ErrorTextTests {
    /// Foundation's file errors read as the system's reason, never as "Error Domain=NSCocoaErrorDomain Code=…".
    @Test func foundationFileErrorsAreTheSystemsReason() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("error-text-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(FileManager.default.createFile(atPath: base, contents: Data()))
        #expect {
            try FileManager.default.createDirectory(atPath: base + "/x/y", withIntermediateDirectories: true)
        } throws: { error in
            ErrorText.describe(error) == "not a directory"
        }
    }
}
