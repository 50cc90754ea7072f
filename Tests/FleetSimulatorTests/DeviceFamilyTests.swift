import FleetClient
import FleetFraming
import FleetSimulator
import Foundation
import Testing

/// Every device preset against a simulated device of its family that frames as the manual says: the preset's
/// framing, session and a typical command, over real sockets, plus each family's awkward case.
@Suite struct DeviceFamilyTests {
    private func client(_ preset: DevicePreset, password: String? = nil, reply: Duration = .seconds(3)) -> DeviceClient
    {
        var configuration = DeviceClient.Configuration(
            format: preset.format, timeouts: .init(connect: .seconds(3), reply: reply))
        configuration.halfClose = DeviceClient.HalfClosePolicy(name: preset.halfClose.rawValue)!  // a known name
        configuration.session = preset.session
        configuration.password = password
        return DeviceClient(configuration: configuration)
    }

    private func withFamily<T: Sendable>(
        _ name: String, devices: Int = 2, password: String? = nil, refusesHandshake: Bool = false,
        faults: [FaultRule] = [], _ body: @Sendable (DevicePreset, FleetLayout, SimulatedFleet) async throws -> T
    ) async throws -> T {
        let preset = try #require(DevicePreset.builtin(named: name))
        var profile = try #require(
            SimulatorProfile.family(preset, password: password, refusesHandshake: refusesHandshake))
        profile.faults = faults + profile.faults
        let layout = try layout(devices)
        return try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { fleet in
            try await body(preset, layout, fleet)
        }
    }

    @Test(arguments: [
        ("esc-cr", ["PING"], ["PONG"]),
        ("hp-pjl", ["@PJL INFO STATUS"], ["@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY=\"Ready\"\r\nONLINE=TRUE\r\n"]),
        (
            "zebra-hs", ["~HS"],
            [
                "\u{2}030,0,0,1245,000,0,0,0,000,0,0,0\u{3}\r\n\u{2}000,0,0,0,0,2,4,0,00000000,1,000\u{3}\r\n\u{2}1234,0\u{3}"
            ]
        ),
        ("escpos-status", ["\u{10}\u{4}\u{1}"], ["\u{12}"]),
        ("extron-sis", ["Q", "N"], ["1.23", "60-1234-01"]),
        ("epson-escvp21", ["PWR?", "LAMP?"], ["PWR=01\r", "LAMP=1234\r"]),
        ("kramer-p3000", ["MODEL?", "VID? 1"], ["01@MODEL VS-88HDCPxl", "01@VID 1>1"]),
        ("pjlink", ["%1POWR ?", "%1NAME ?"], ["%1POWR=1", "%1NAME=dev1"]),
    ])
    func everyFamilyAnswersItsPreset(name: String, sent: [String], expected: [String]) async throws {
        try await withFamily(name) { preset, layout, _ in
            let exchange = await client(preset).exchange(sent.map { Array($0.utf8) }, with: address(layout, 1))
            #expect(exchange.error == nil)
            #expect(
                exchange.replies.map { String(decoding: $0.payload, as: UTF8.self) }
                    == expected.map {
                        $0.replacingOccurrences(of: "dev1", with: layout.name(1))
                    })
        }
    }

    @Test func pjlinkLoginAndItsFailure() async throws {
        try await withFamily("pjlink", password: "sekrit") { preset, layout, fleet in
            let right = await client(preset, password: "sekrit").exchange(
                [Array("%1POWR ?".utf8)], with: address(layout, 1))
            #expect(right.replies.map(\.text) == ["%1POWR=1"])
            let wrong = await client(preset, password: "guess").exchange(
                [Array("%1POWR ?".utf8)], with: address(layout, 2))
            #expect(wrong.error?.code == .sessionRefused)
            #expect(wrong.error?.detail == "PJLink authentication failed (wrong password)")
            #expect(fleet.ledger.counters(1).received == 0)  // device 2 (0-based 1) ran nothing
        }
    }

    @Test func epsonHandshakeRefusal() async throws {
        try await withFamily("epson-escvp21", refusesHandshake: true) { preset, layout, fleet in
            let exchange = await client(preset).exchange([Array("PWR?".utf8)], with: address(layout, 1))
            #expect(exchange.error?.code == .sessionRefused)
            #expect(exchange.error?.detail.contains("0x53 Service Unavailable") == true)
            #expect(fleet.ledger.counters(0).received == 0)
        }
    }

    @Test func silentZebraIsAReplyTimeoutNotAHang() async throws {
        try await withFamily("zebra-hs", faults: [FaultRule(fault: .neverReply, devices: [1...1])]) {
            preset, layout, _ in
            let began = ContinuousClock.now
            let exchange = await client(preset, reply: .milliseconds(400)).exchange(
                [Array("~HS".utf8)], with: address(layout, 1))
            #expect(exchange.error?.code == .replyTimeout)
            #expect(ContinuousClock.now - began < .seconds(3))
        }
    }

    @Test func hpPjlTakesOneConnectionAtATime() async throws {
        try await withFamily("hp-pjl") { preset, layout, _ in
            let device = address(layout, 1)
            let first = try await DeviceConnection.open(
                device,
                configuration: .init(format: preset.format, timeouts: .init(connect: .seconds(3), reply: .seconds(3))))
            #expect(try await first.send(Array("@PJL INFO ID".utf8)).text.contains("HP LaserJet"))
            // While the first is open, a second connection is closed by the printer without an answer.
            let second = await client(preset).exchange([Array("@PJL INFO STATUS".utf8)], with: device)
            #expect(second.error != nil)
            #expect(second.replies.isEmpty)
            await first.close()
            // Once the printer has seen the first connection close, it takes a new one.
            let deadline = ContinuousClock.now + .seconds(5)
            var third = await client(preset).exchange([Array("@PJL INFO STATUS".utf8)], with: device)
            while third.error != nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))  // ok-sleep: polling with a deadline
                third = await client(preset).exchange([Array("@PJL INFO STATUS".utf8)], with: device)
            }
            #expect(third.error == nil)
        }
    }
}
