import FleetRunner
import Foundation
import Testing

@testable import FleetCLI

@Suite struct ReplyNormalizerTests {
    @Test func aMatchOrItsFirstGroupIsMasked() throws {
        let whole = try ReplyNormalizer(["uptime=\\d+s"])
        #expect(whole.normalize("OK uptime=123s load=2") == "OK … load=2")
        let group = try ReplyNormalizer(["uptime=(\\d+)s", "load=(\\d+)"])
        #expect(group.normalize("OK uptime=123s load=2") == "OK uptime=…s load=…")
        #expect(group.normalize("no counters") == "no counters")
        #expect(throws: ReplyNormalizer.NormalizeError.self) { try ReplyNormalizer(["(unclosed"]) }
    }

    @Test func devicesThatDifferOnlyInMaskedFieldsAreOneGroup() throws {
        let results = (1...5).map { index in
            DeviceResult(
                device: "dev\(index)", address: "10.0.0.\(index):9100", outcome: .ok, replies: ["OK uptime=\(index)s"])
        }
        #expect(RunTally(results).groupCount == 5)
        let tally = RunTally(results, normalizer: try ReplyNormalizer(["uptime=(\\d+)s"]))
        #expect(tally.groupCount == 1)
        #expect(
            tally.lines(names: results.map(\.device), elapsed: .seconds(1)).contains { $0.contains("OK uptime=…s") })
    }
}

@Suite struct UserConfigTests {
    private func config(_ values: [String: String]) -> UserConfig { UserConfig(values: values, path: "c.yaml") }

    @Test func valuesFillOnlyWhatTheCommandLineLeavesOut() {
        let file = config(["forks": "50", "output": "jsonl", "preset": "pjlink", "reply_timeout": "2s"])
        #expect(
            file.applied(to: ["run", "-i", "hosts.ini", "STATUS"])
                == [
                    "run", "-i", "hosts.ini", "STATUS", "--forks", "50", "--reply-timeout", "2s", "--preset", "pjlink",
                    "--output", "jsonl",
                ])
        // A flag given in any spelling wins.
        let given = file.applied(to: ["run", "--forks=7", "--format", "json", "--preset", "esc-cr", "STATUS"])
        #expect(!given.contains("50") && !given.contains("jsonl") && !given.contains("pjlink"))
        // Before `--`, so that what follows stays a command.
        #expect(file.applied(to: ["send", "h", "--", "-x"]).suffix(2) == ["--", "-x"])
        // `presets` takes no --preset; `shell` has no -o.
        #expect(file.applied(to: ["presets"]) == ["presets", "--output", "jsonl"])
        #expect(!file.applied(to: ["shell", "h"]).contains("--output"))
        // A format the command does not have is not forced on it.
        #expect(config(["output": "hex"]).applied(to: ["probe", "h"]) == ["probe", "h"])
        #expect(file.applied(to: ["---completion", "run", "--", "--fo"]) == ["---completion", "run", "--", "--fo"])
    }

    @Test func problemsNameTheFileAndLine() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fleetcmd-config-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("config.yaml").path
        for (text, message) in [
            ("forks: 10\nfrokz: 2\n", "config.yaml:2: unknown setting 'frokz'"),
            ("forks: none\n", "config.yaml:1: forks must be a whole number"),
            ("reply_timeout: soon\n", "config.yaml:1: reply_timeout must be a duration"),
            ("output: xml\n", "config.yaml:1: output must be text, hex, json or jsonl"),
        ] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            #expect {
                _ = try UserConfig.load(path: path)
            } throws: { error in
                "\(error)".contains(message)
            }
        }
        try "forks: 10\noutput: json\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try UserConfig.load(path: path).values == ["forks": "10", "output": "json"])
        #expect(try UserConfig.load(path: path + ".missing").values.isEmpty)
    }
}

@Suite struct HelpExamplesTests {
    @Test func everyCommandsHelpEndsWithExamples() {
        let paths = [
            [], ["send"], ["run"], ["runs"], ["runs", "list"], ["runs", "show"], ["probe"], ["listen"], ["agent"],
            ["simulate"], ["demo"], ["tls"], ["tls", "init"], ["tls", "pin"], ["presets"], ["shell"], ["watch"],
            ["inventory"], ["config"], ["config", "show"],
        ]
        for path in paths {
            let help = HelpExamples.helpRequested(path + ["--help"])
            #expect(help?.contains("USAGE:") == true, "\(path)")
            let examples = help?.components(separatedBy: "\nEXAMPLES:\n").last ?? ""
            #expect(help?.contains("\nEXAMPLES:\n") == true, "\(path)")
            #expect(examples.split(separator: "\n").allSatisfy { $0.hasPrefix("  ") && $0.contains("fleetcmd ") })
        }
        #expect(HelpExamples.helpRequested(["help", "send"]) == HelpExamples.helpRequested(["send", "-h"]))
        #expect(HelpExamples.helpRequested(["send", "host", "STATUS"]) == nil)
        #expect(HelpExamples.helpRequested(["send", "host", "--", "--help"]) == nil)
    }
}
