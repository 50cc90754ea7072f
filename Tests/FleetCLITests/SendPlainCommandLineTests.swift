import ArgumentParser
import FleetFraming
import FleetTestSupport
import Foundation
import Testing

@testable import FleetCLI

private func text(_ value: String) -> [UInt8] { Array(value.utf8) }

/// `send HOST COMMAND...` without options runs without ArgumentParser (``SendSettings/init(plainCommandLine:)``):
/// it must mean exactly what ArgumentParser would make of it, and hand everything else to ArgumentParser.
@Suite struct SendPlainCommandLineTests {
    @Test func aPlainCommandLineHasTheValuesArgumentParserDecodes() throws {
        for arguments in [
            ["127.0.0.1:9100", "PING"], ["printer-7", "STATUS", "hex:1b40", "a\\r\\n"], ["[::1]:7", "x y"],
        ] {
            let plain = try #require(SendSettings(plainCommandLine: ["send"] + arguments))
            let parsed = try Send.parse(arguments).settings
            #expect(plain == parsed)
            #expect(plain.client == ClientSettings())
        }
    }

    @Test func defaultsComeFromTheOptionsThatDeclareThem() throws {
        let parsed = try Send.parse(["h", "PING"])
        #expect(parsed.client.settings.timeouts == TimeoutOptions.defaults)
        #expect(parsed.client.settings.maxReplyBytes == 1 << 20)
        #expect(parsed.client.framing.preset == "esc-cr")
        #expect(parsed.errorPattern == "^ERR")
        #expect(parsed.output == .text)
    }

    /// `validateCommand()` checks only a pattern of the user's; the default must therefore always compile, and a
    /// bad one still fails the check.
    @Test func theDefaultErrorPatternCompilesAndABadOneIsCaught() throws {
        _ = try Regex(SendSettings.defaultErrorPattern)
        var settings = try #require(SendSettings(plainCommandLine: ["send", "127.0.0.1:9100", "PING"]))
        try settings.validateCommand()
        settings.errorPattern = "(unclosed"
        #expect(throws: ValidationError.self) { try settings.validateCommand() }
    }

    @Test func anythingElseIsLeftToArgumentParser() {
        for arguments in [
            ["send"], ["send", "h"], ["run", "h", "PING"], ["send", "h", "PING", "-v"], ["send", "--hex", "h", "50"],
            ["send", "h", "-"], ["send", "h", "--", "PING"], ["send", "help", "PING"], ["send", "h", "help"],
            ["send", "h", "bad\\q"], ["send", "h:99999", "PING"], ["send", "", "PING"],
        ] {
            #expect(SendSettings(plainCommandLine: arguments) == nil, "\(arguments)")
        }
    }

    /// The same conversation through both paths (the option spelled out sends it through ArgumentParser) prints the
    /// same bytes and exits the same way: a reply, an error reply, a refused connection, a reply timeout.
    @Test func bothPathsAnswerAlike() async throws {
        let device = try await ScriptedDevice.start(
            behavior: .answer({ request in request == text("BAD") ? text("ERR 3") : text("PONG") }))
        let closed = try ClosedPort()
        let closedPort = closed.port
        let cases: [[String]] = [
            ["127.0.0.1:\(device.port)", "PING", "hex:41"],
            ["127.0.0.1:\(device.port)", "PING", "BAD"],
            ["127.0.0.1:\(closedPort)", "PING"],
            ["no-such-device.invalid", "PING"],
        ]
        for arguments in cases {
            let plain = try await FleetcmdProcess.run(["send"] + arguments)
            let parsed = try await FleetcmdProcess.run(["send"] + arguments + ["--error-pattern", "^ERR"])
            #expect(plain.status == parsed.status, "\(arguments)")
            #expect(plain.stdout == parsed.stdout, "\(arguments)")
            #expect(plain.stderr == parsed.stderr, "\(arguments)")
        }
        let answered = try await FleetcmdProcess.run(["send", "127.0.0.1:\(device.port)", "PING", "BAD"])
        #expect(answered.stdout == "PONG\nERR 3\n")
        #expect(answered.status == 10)
        await device.stop()
        withExtendedLifetime(closed) {}
    }
}
