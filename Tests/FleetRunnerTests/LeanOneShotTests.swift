import FleetClient
import FleetFraming
import FleetRunner
import FleetSimulator
import FleetTLS
import FleetTestSupport
import Testing

/// `send`'s one-shot on the lean path (``LeanOneShot``) and `DeviceClient` hold the same conversation: the same
/// replies, error (code and text), leftover bytes and greeting, for a well device and for every fault.
@Suite struct LeanOneShotTests {
    /// Both paths against one device; what they got, with the parts that are timings left out.
    private func both(
        _ commands: [[UInt8]], _ address: DeviceAddress, _ configuration: DeviceClient.Configuration
    )
        async throws -> (lean: Exchange, nio: Exchange)
    {
        let lean = try #require(LeanOneShot.exchange(commands, with: address, configuration: configuration))
        let nio = await DeviceClient(configuration: configuration).exchange(commands, with: address)
        return (lean, nio)
    }

    /// `randomReplies`: the device answers random bytes (garbage), so only how many replies came can agree.
    private func expectAlike(_ lean: Exchange, _ nio: Exchange, _ context: String, randomReplies: Bool = false) {
        #expect(lean.device == nio.device, "\(context)")
        #expect(lean.commandCount == nio.commandCount, "\(context)")
        #expect(lean.replies.count == nio.replies.count, "\(context)")
        if !randomReplies {
            #expect(lean.replies.map(\.payload) == nio.replies.map(\.payload), "\(context)")
            #expect(lean.replies.map(\.frame) == nio.replies.map(\.frame), "\(context)")
        }
        #expect(lean.error?.code == nio.error?.code, "\(context)")
        #expect(lean.error?.description == nio.error?.description, "\(context)")
        #expect(lean.leftoverBytes == nio.leftoverBytes, "\(context)")
        #expect(lean.greeting == nio.greeting, "\(context)")
        #expect((lean.connectDuration == nil) == (nio.connectDuration == nil), "\(context)")
    }

    @Test func agreesWithDeviceClientOnEveryFault() async throws {
        let layout = try makeLayout(10)
        let profile = SimulatorProfile(
            faults: oneDevicePerFault + [FaultRule(fault: .garbage, devices: [10...10])])
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { _ in
            for commands in [bytes("ID", "PING", "BOGUS"), bytes("PING")] {
                var outcomes: [DeviceError.Code?] = []
                for number in 1...layout.count {
                    let (host, port) = layout.endpoint(number)
                    let (lean, nio) = try await both(commands, DeviceAddress(host: host, port: port), shortTimeouts)
                    expectAlike(
                        lean, nio, "device \(number), \(commands.count) commands", randomReplies: number == 10)
                    outcomes.append(lean.error?.code)
                }
                // The faults happened (the comparison is not of two empty results).
                #expect(outcomes[0] == nil)
                #expect(outcomes[1] == .refused)
                #expect(outcomes[2] == .replyTimeout)
                #expect(outcomes[3] == .reset)
                #expect(outcomes[5] == .tooLarge)
            }
        }
    }

    @Test func leftoverBytesAndTimeoutsAgree() async throws {
        // A reply, then a second frame nobody asked for.
        let chatty = try await ScriptedDevice.start(behavior: .answer({ _ in Array("PONG\0EXTRA".utf8) }))
        let (lean, nio) = try await both(
            bytes("PING"), DeviceAddress(host: "127.0.0.1", port: chatty.port), shortTimeouts)
        expectAlike(lean, nio, "leftover")
        #expect(lean.replies.map(\.payload) == [Array("PONG".utf8)])
        #expect(lean.leftoverBytes > 0)
        await chatty.stop()

        let hole = try BlackHoleListener()
        var configuration = shortTimeouts
        configuration.timeouts.connect = .milliseconds(200)
        let (leanTimeout, nioTimeout) = try await both(
            bytes("PING"), DeviceAddress(host: "127.0.0.1", port: hole.port), configuration)
        expectAlike(leanTimeout, nioTimeout, "connect timeout")
        #expect(leanTimeout.error?.code == .connectTimeout)
    }

    /// What only `DeviceClient` can do is left to it.
    @Test func leavesToDeviceClientWhatItCannotHold() throws {
        let address = DeviceAddress(host: "127.0.0.1", port: 9)
        #expect(
            LeanOneShot.exchange(bytes("PING"), with: DeviceAddress(host: "localhost", port: 9), configuration: .init())
                == nil)
        var raw = DeviceClient.Configuration()
        raw.format = .raw
        #expect(LeanOneShot.exchange(bytes("PING"), with: address, configuration: raw) == nil)
        var withSession = DeviceClient.Configuration()
        withSession.session = try #require(DevicePreset.builtin(named: "pjlink")).session
        #expect(!withSession.session.isEmpty)
        #expect(LeanOneShot.exchange(bytes("PING"), with: address, configuration: withSession) == nil)
        var tls = DeviceClient.Configuration()
        tls.tls = try ClientTLS(ClientTLSSettings(insecure: true))
        #expect(LeanOneShot.exchange(bytes("PING"), with: address, configuration: tls) == nil)
    }
}
