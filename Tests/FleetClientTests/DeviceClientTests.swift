import FleetClient
import FleetFraming
import FleetTestSupport
import NIOCore
import Testing

private func text(_ value: String) -> [UInt8] { Array(value.utf8) }
private let pong: @Sendable ([UInt8]) -> [UInt8] = { request in
    request == text("PING") ? text("PONG") : text("ECHO ") + request
}

@Suite struct DeviceClientTests {
    private func client(
        _ format: FrameFormat = .escCR, halfClose: DeviceClient.HalfClosePolicy = .auto, reply: Duration = .seconds(5),
        connect: Duration = .seconds(5), total: Duration? = nil, maxReply: Int = 1 << 20
    ) -> DeviceClient {
        DeviceClient(
            configuration: .init(
                format: format, timeouts: .init(connect: connect, reply: reply, total: total, idle: .milliseconds(200)),
                halfClose: halfClose, maxReplyBytes: maxReply))
    }

    private func address(_ device: ScriptedDevice) -> DeviceAddress {
        DeviceAddress(host: "127.0.0.1", port: device.port)
    }

    @Test func singleCommandGetsItsReplyFromADeviceThatAnswersAndCloses() async throws {
        let device = try await ScriptedDevice.start(behavior: .answer(pong))
        let exchange = await client().exchange([text("PING")], with: address(device))
        #expect(exchange.error == nil)
        #expect(exchange.replies.map(\.text) == ["PONG"])
        #expect(exchange.replies.first?.frame == text("PONG") + [0])
        #expect(device.requests == [text("PING")])
        await device.stop()
    }

    @Test func deviceThatWaitsForHalfCloseStillAnswers() async throws {
        let device = try await ScriptedDevice.start(behavior: .answerAfterHalfClose(pong))
        let exchange = await client().exchange([text("PING")], with: address(device))
        #expect(exchange.replies.map(\.text) == ["PONG"])
        #expect(exchange.error == nil)
        await device.stop()
    }

    @Test func finIntolerantDeviceNeedsHalfCloseNever() async throws {
        let device = try await ScriptedDevice.start(behavior: .dropReplyOnHalfClose(delay: .milliseconds(50), pong))
        let dropped = await client().exchange([text("PING")], with: address(device))
        #expect(dropped.error?.code == .closedEarly)
        #expect(
            dropped.error?.description
                == "failed to communicate with device 127.0.0.1:\(device.port): closed without replying")
        let kept = await client(halfClose: .never).exchange([text("PING")], with: address(device))
        #expect(kept.replies.map(\.text) == ["PONG"])
        #expect(kept.error == nil)
        await device.stop()
    }

    @Test func replyInManySmallSegmentsIsReassembled() async throws {
        let long = String(repeating: "0123456789", count: 5)
        let device = try await ScriptedDevice.start(
            behavior: .drip(chunkSize: 3, interval: .milliseconds(1), { _ in text(long) }))
        let exchange = await client(halfClose: .never).exchange([text("STATUS")], with: address(device))
        #expect(exchange.replies.map(\.text) == [long])
        await device.stop()
    }

    @Test func pipelinedCommandsGetOneReplyEachInOrder() async throws {
        let device = try await ScriptedDevice.start(behavior: .answer(pong))
        let commands = (0..<50).map { text("C\($0)") }
        let exchange = await client().exchange(commands, with: address(device))
        #expect(exchange.error == nil)
        #expect(exchange.replies.map(\.text) == (0..<50).map { "ECHO C\($0)" })
        await device.stop()
    }

    @Test(arguments: [FrameFormat.line, .crlf, .cr, .length16, .length32])
    func everySelfDelimitingPresetRoundTrips(_ format: FrameFormat) async throws {
        let device = try await ScriptedDevice.start(format: format, behavior: .answer(pong))
        let exchange = await client(format).exchange([text("PING"), text("X")], with: address(device))
        #expect(exchange.replies.map(\.text) == ["PONG", "ECHO X"])
        await device.stop()
    }

    @Test func rawRepliesEndWhenTheDeviceGoesIdle() async throws {
        let format = FrameFormat(name: "esc-cr/raw", request: FrameFormat.escCR.request, reply: .untilClose)
        let device = try await ScriptedDevice.start(format: format, behavior: .answer(pong))
        let exchange = await client(format, halfClose: .never).exchange(
            [text("PING"), text("A")], with: address(device))
        #expect(exchange.replies.map(\.text) == ["PONG", "ECHO A"])
        await device.stop()
    }

    @Test func rawReplyEndsWhenTheDeviceCloses() async throws {
        let device = try await ScriptedDevice.start(behavior: .writeThenClose(text("all of it\0and more")))
        let format = FrameFormat(name: "esc-cr/raw", request: FrameFormat.escCR.request, reply: .untilClose)
        let exchange = await client(format).exchange([text("DUMP")], with: address(device))
        #expect(exchange.replies.first?.payload == text("all of it\0and more"))
        await device.stop()
    }

    @Test func fixedLengthStatusByte() async throws {
        let format = FrameFormat.fixed(1)
        let device = try await ScriptedDevice.start(
            format: FrameFormat(name: "t", request: FrameFormat.escCR.request, reply: .fixedLength(1)),
            behavior: .answer({ _ in [0x12] }))
        let exchange = await client(
            FrameFormat(name: "t", request: FrameFormat.escCR.request, reply: format.reply), halfClose: .never
        ).exchange([[0x10, 0x04, 0x01]], with: address(device))
        #expect(exchange.replies.first?.payload == [0x12])
        await device.stop()
    }

    @Test func refusedPortIsAConnectError() async throws {
        let closed = try ClosedPort()
        let port = closed.port
        let exchange = await client().exchange([text("PING")], with: DeviceAddress(host: "127.0.0.1", port: port))
        #expect(exchange.error?.code == .refused)
        #expect(exchange.error?.description == "failed to connect to device 127.0.0.1:\(port): connection refused")
        #expect(exchange.error?.mayHaveDelivered == false)
        withExtendedLifetime(closed) {}
    }

    @Test func blackHoleListenerTimesOutConnecting() async throws {
        let hole = try BlackHoleListener()
        let exchange = await client(connect: .milliseconds(300)).exchange(
            [text("PING")], with: DeviceAddress(host: "127.0.0.1", port: hole.port))
        #expect(exchange.error?.code == .connectTimeout)
        #expect(
            exchange.error?.description == "failed to connect to device 127.0.0.1:\(hole.port): timed out after 300ms")
        withExtendedLifetime(hole) {}
    }

    @Test func silentDeviceTimesOutWaitingForTheReply() async throws {
        let device = try await ScriptedDevice.start(behavior: .silent)
        let exchange = await client(halfClose: .never, reply: .milliseconds(200)).exchange(
            [text("PING")], with: address(device))
        #expect(exchange.error?.code == .replyTimeout)
        #expect(exchange.error?.mayHaveDelivered == true)
        #expect(exchange.error?.description.contains("timed out after 200ms waiting for a reply") == true)
        await device.stop()
    }

    @Test func totalTimeoutBoundsTheWholeConversation() async throws {
        let device = try await ScriptedDevice.start(behavior: .silent)
        let exchange = await client(halfClose: .never, reply: .seconds(30), total: .milliseconds(200)).exchange(
            [text("PING")], with: address(device))
        #expect(exchange.error?.code == .replyTimeout)
        #expect(exchange.error?.description.contains("total timeout of 200ms expired") == true)
        await device.stop()
    }

    @Test func resetIsReportedAsReset() async throws {
        let device = try await ScriptedDevice.start(behavior: .resetOnRequest)
        let exchange = await client(halfClose: .never).exchange([text("PING")], with: address(device))
        #expect(exchange.error?.code == .reset)
        #expect(
            exchange.error?.description
                == "failed to communicate with device 127.0.0.1:\(device.port): connection reset by peer")
        await device.stop()
    }

    @Test func closeMidReplyReportsWhatArrived() async throws {
        let device = try await ScriptedDevice.start(behavior: .writeThenClose(text("PARTIAL REPLY")))
        let exchange = await client().exchange([text("PING")], with: address(device))
        #expect(exchange.error?.code == .closedEarly)
        #expect(
            exchange.error?.description
                == "failed to communicate with device 127.0.0.1:\(device.port): closed before the reply was complete (got 13 bytes, no NUL)"
        )
        await device.stop()
    }

    @Test func repliesBeforeAFailureAreKept() async throws {
        let device = try await ScriptedDevice.start(behavior: .writeThenClose(text("FIRST\0SECO")))
        let exchange = await client().exchange([text("A"), text("B")], with: address(device))
        #expect(exchange.replies.map(\.text) == ["FIRST"])
        #expect(exchange.error?.code == .closedEarly)
        await device.stop()
    }

    @Test func oversizedReplyFailsWithoutBufferingItAll() async throws {
        let device = try await ScriptedDevice.start(
            behavior: .answer({ _ in [UInt8](repeating: 0x41, count: 100_000) }))
        let exchange = await client(maxReply: 1024).exchange([text("BIG")], with: address(device))
        #expect(exchange.error?.code == .tooLarge)
        #expect(exchange.error?.description.hasSuffix("reply exceeds 1 KiB") == true)
        await device.stop()
    }

    @Test func extraBytesAfterTheLastReplyAreCountedAsLeftover() async throws {
        let device = try await ScriptedDevice.start(behavior: .writeThenClose(text("ONE\0EXTRA")))
        let exchange = await client(halfClose: .never).exchange([text("A")], with: address(device))
        #expect(exchange.replies.map(\.text) == ["ONE"])
        #expect(exchange.leftoverBytes == 5)
        await device.stop()
    }

    @Test func unresolvableNameIsUnreachable() async throws {
        let exchange = await client(connect: .seconds(2)).exchange(
            [text("PING")], with: DeviceAddress(host: "no-such-device.invalid", port: 9100))
        #expect(exchange.error?.code == .unreachable)
        #expect(
            exchange.error?.description.hasPrefix(
                "failed to connect to device no-such-device.invalid:9100: cannot resolve host") == true)
        #expect(exchange.error?.description.contains("SocketAddressError") == false)
    }

    @Test func hostNamesAreResolved() async throws {
        let device = try await ScriptedDevice.start(behavior: .answer(pong))
        let exchange = await client().exchange(
            [text("PING")], with: DeviceAddress(host: "localhost", port: device.port))
        #expect(exchange.replies.map(\.text) == ["PONG"])
        #expect(exchange.device == "localhost:\(device.port)")
        await device.stop()
    }

    @Test func ipv6LoopbackWorks() async throws {
        let device = try await ScriptedDevice.start(host: "::1", behavior: .answer(pong))
        let exchange = await client().exchange([text("PING")], with: try DeviceAddress(parsing: "[::1]:\(device.port)"))
        #expect(exchange.error == nil)
        #expect(exchange.replies.map(\.text) == ["PONG"])
        #expect(exchange.device == "[::1]:\(device.port)")
        await device.stop()
    }

    @Test func probeReportsReachableAndRefused() async throws {
        let device = try await ScriptedDevice.start(behavior: .silent)
        let up = await client().probe(address(device))
        #expect((try? up.get()) != nil)
        let port = device.port
        await device.stop()
        let down = await client().probe(DeviceAddress(host: "127.0.0.1", port: port))
        guard case .failure(let error) = down else { Issue.record("expected refused"); return }
        #expect(error.code == .refused)
    }
}

@Suite struct DeviceAddressTests {
    @Test(
        arguments: [
            ("10.0.0.7", "10.0.0.7", 9100), ("10.0.0.7:23", "10.0.0.7", 23), ("printer.local", "printer.local", 9100),
            ("[::1]:9100", "::1", 9100), ("::1", "::1", 9100), ("[fe80::1]", "fe80::1", 9100),
        ] as [(String, String, Int)])
    func parses(_ input: String, _ host: String, _ port: Int) throws {
        let address = try DeviceAddress(parsing: input)
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test(arguments: ["", ":9100", "host:99999", "host:abc", "[::1", "[::1]x"])
    func rejects(_ input: String) {
        #expect(throws: DeviceAddress.ParseError.self) { try DeviceAddress(parsing: input) }
    }

    @Test func describesIPv6InBrackets() {
        #expect(DeviceAddress(host: "::1", port: 1).description == "[::1]:1")
    }
}
