import FleetClient
import FleetFraming
import FleetTLS
import NIOCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

// The conversation core without sockets: every outcome and its text, each preset's session, and replies split at
// every offset. Time is injected: `t0 + .milliseconds(n)`.

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private let t0 = ContinuousClock.now
private func at(_ milliseconds: Int) -> ContinuousClock.Instant { t0 + .milliseconds(milliseconds) }
private let device = "10.0.0.7:9100"

private func configuration(
    _ format: FrameFormat = .escCR, reply: Duration = .seconds(10), total: Duration? = nil,
    halfClose: DeviceClient.HalfClosePolicy = .auto, maxReply: Int = 1 << 20, session: DevicePreset.Session = .init(),
    password: String? = nil
) -> DeviceClient.Configuration {
    var configuration = DeviceClient.Configuration(
        format: format, timeouts: .init(connect: .seconds(5), reply: reply, total: total, idle: .milliseconds(500)),
        halfClose: halfClose, maxReplyBytes: maxReply)
    configuration.session = session
    configuration.password = password
    return configuration
}

private func oneShot(
    _ commands: [String], _ configuration: DeviceClient.Configuration = configuration()
)
    -> DeviceConversation
{
    DeviceConversation(commands: commands.map(bytes), configuration: configuration, device: device, startedAt: t0)
}

/// Feeds `stream` split into the given pieces, stopping at the first finished output.
private func feed(
    _ conversation: inout DeviceConversation, _ pieces: [[UInt8]], now: Int = 5
)
    -> DeviceConversation.Output
{
    var last = DeviceConversation.Output()
    for piece in pieces {
        last = conversation.received(ByteBuffer(bytes: piece), now: at(now))
        if last.finished != nil { return last }
    }
    return last
}

/// Every way of cutting `stream` in two, plus byte by byte.
private func splits(_ stream: [UInt8]) -> [[[UInt8]]] {
    (0...stream.count).map { [Array(stream[..<$0]), Array(stream[$0...])].filter { !$0.isEmpty } }
        + [stream.map { [$0] }]
}

@Suite struct DeviceConversationTests {
    @Test func theSeedArticleConversationAtEverySplit() {
        for pieces in splits(bytes("  READY 42 \0")) {
            var conversation = oneShot(["STATUS"])
            let opened = conversation.connected(now: at(1))
            #expect(opened.write == [0x1B] + bytes("STATUS") + [0x0D])
            #expect(opened.halfClose)
            #expect(conversation.nextDeadline == at(1) + .seconds(10))
            let output = feed(&conversation, pieces)
            let exchange = try! #require(output.finished)
            #expect(output.close)
            #expect(exchange.error == nil)
            #expect(exchange.replies.map(\.text) == ["READY 42"])
            #expect(exchange.replies[0].elapsed == .milliseconds(4))
            #expect(exchange.connectDuration == .milliseconds(1))
            #expect(conversation.nextDeadline == nil)
        }
    }

    @Test func pipelinedRepliesAtEverySplitKeepTheirOrderAndLeftoverIsCounted() {
        for pieces in splits(bytes("A\0B\0C\0xy")) {
            var conversation = oneShot(["1", "2", "3"])
            let opened = conversation.connected(now: at(0))
            #expect(opened.write == [0x1B, 0x31, 0x0D, 0x1B, 0x32, 0x0D, 0x1B, 0x33, 0x0D])
            #expect(!opened.halfClose)  // auto: several commands keep the connection open
            let exchange = try! #require(feed(&conversation, pieces).finished)
            #expect(exchange.replies.map(\.text) == ["A", "B", "C"])
            // The bytes after the last reply that came in the same read are reported, never dropped silently.
            if pieces.count == 1 { #expect(exchange.leftoverBytes == 2) }
        }
    }

    @Test func aStopRuleSendsOneCommandAtATimeAndNeverTheRest() {
        var settings = configuration(halfClose: .always)
        settings.stopAfterReply = { $0 == bytes("ERR") }
        var conversation = oneShot(["A", "B", "C"], settings)
        #expect(conversation.connected(now: at(0)).write == [0x1B, 0x41, 0x0D])
        let second = conversation.received(ByteBuffer(bytes: bytes("ok\0")), now: at(1))
        #expect(second.write == [0x1B, 0x42, 0x0D])
        #expect(!second.halfClose)
        let last = conversation.received(ByteBuffer(bytes: bytes("ERR\0")), now: at(2))
        #expect(last.write.isEmpty)
        let exchange = try! #require(last.finished)
        #expect(exchange.replies.map(\.text) == ["ok", "ERR"])
        #expect(exchange.error == nil && !exchange.isComplete)
    }

    @Test func endOfStreamTexts() {
        var silent = oneShot(["A"])
        _ = silent.connected(now: at(0))
        #expect(
            silent.peerClosed(now: at(1)).finished?.error?.description
                == "failed to communicate with device 10.0.0.7:9100: closed without replying")

        var partial = oneShot(["A"])
        _ = partial.connected(now: at(0))
        _ = partial.received(ByteBuffer(bytes: bytes("READ")), now: at(1))
        let cut = partial.peerClosed(now: at(2)).finished?.error
        #expect(cut?.code == .closedEarly)
        #expect(cut?.detail == "closed before the reply was complete (got 4 bytes, no NUL)")

        var some = oneShot(["A", "B"])
        _ = some.connected(now: at(0))
        _ = some.received(ByteBuffer(bytes: bytes("ok\0")), now: at(1))
        let finished = some.peerClosed(now: at(2)).finished
        #expect(finished?.error?.detail == "closed after 1 of 2 replies")
        #expect(finished?.replies.map(\.text) == ["ok"])  // what arrived is kept

        var one = oneShot(["A"])
        _ = one.connected(now: at(0))
        _ = one.received(ByteBuffer(bytes: [0x41]), now: at(1))
        #expect(
            one.peerClosed(now: at(2)).finished?.error?.detail
                == "closed before the reply was complete (got 1 byte, no NUL)")
    }

    @Test func replyAndTotalTimeoutsWithTheirProgress() {
        var waiting = oneShot(["A", "B"], configuration(reply: .seconds(2)))
        _ = waiting.connected(now: at(0))
        _ = waiting.received(ByteBuffer(bytes: bytes("ok\0par")), now: at(500))
        #expect(waiting.nextDeadline == at(2500))
        #expect(waiting.deadlinePassed(now: at(2499)).finished == nil)  // early wake-ups do nothing
        let error = waiting.deadlinePassed(now: at(2500)).finished?.error
        #expect(error?.code == .replyTimeout)
        #expect(
            error?.detail
                == "timed out after 2s waiting for a reply (got 1 of 2 replies; 3 bytes of a partial reply, no NUL)")
        #expect(error?.mayHaveDelivered == true)

        var total = oneShot(["A"], configuration(total: .seconds(1)))
        _ = total.connected(now: at(100))
        #expect(total.nextDeadline == at(1000))
        #expect(total.deadlinePassed(now: at(1000)).finished?.error?.detail == "total timeout of 1s expired")

        var neverConnected = oneShot(["A"], configuration(total: .seconds(1)))
        neverConnected.connecting(now: at(0))
        #expect(neverConnected.nextDeadline == at(1000))
        let early = neverConnected.deadlinePassed(now: at(1000)).finished?.error
        #expect(early?.code == .connectTimeout && early?.detail == "timed out after 1s")
        #expect(early?.mayHaveDelivered == false)

        var slowConnect = oneShot(["A"])
        slowConnect.connecting(now: at(0))
        #expect(
            slowConnect.deadlinePassed(now: at(5000)).finished?.error?.description
                == "failed to connect to device 10.0.0.7:9100: timed out after 5s")
    }

    @Test func aReplyOverTheLimitIsTooLarge() {
        var conversation = oneShot(["A"], configuration(maxReply: 8))
        _ = conversation.connected(now: at(0))
        let error = conversation.received(ByteBuffer(bytes: Array(repeating: 0x41, count: 20)), now: at(1)).finished?
            .error
        #expect(error?.code == .tooLarge)
        #expect(error?.detail == "reply exceeds 8 bytes")
    }

    @Test func aTLSRecordOnAPlaintextConversationIsOutcomeTLSAtEverySplit() {
        for pieces in splits([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46]) {
            var conversation = oneShot(["A"])
            _ = conversation.connected(now: at(0))
            let error = feed(&conversation, pieces).finished?.error
            #expect(error?.code == .tls)
            #expect(error?.detail == "TLS: the device speaks TLS on this port; add --tls")
        }
    }

    @Test func rawRepliesEndAtSilenceOrClose() {
        var quiet = oneShot(["A"], configuration(.raw))
        _ = quiet.connected(now: at(0))
        _ = quiet.received(ByteBuffer(bytes: bytes("whole reply")), now: at(10))
        #expect(quiet.nextDeadline == at(510))  // idle: 500 ms after the last byte
        #expect(quiet.deadlinePassed(now: at(510)).finished?.replies.map(\.text) == ["whole reply"])

        var closing = oneShot(["A"], configuration(.raw))
        _ = closing.connected(now: at(0))
        _ = closing.received(ByteBuffer(bytes: bytes("bye")), now: at(10))
        let exchange = closing.peerClosed(now: at(20)).finished
        #expect(exchange?.error == nil && exchange?.replies.map(\.text) == ["bye"])
    }

    @Test func escvpNetHandshakeAtEverySplitAndItsRefusal() {
        let preset = DevicePreset.builtin(named: "epson-escvp21")!
        var settings = configuration(preset.format)
        settings.session = preset.session
        let hello = bytes("ESC/VP.net") + [0x10, 0x03, 0x00, 0x00, 0x20, 0x00]
        for pieces in splits(hello + bytes("ON:")) {
            var conversation = DeviceConversation(
                commands: [bytes("PWR?")], configuration: settings, device: device, startedAt: t0)
            let first = conversation.connected(now: at(0))
            #expect(first.write == bytes("ESC/VP.net") + [0x10, 0x03, 0, 0, 0, 0])
            var written: [UInt8] = []
            var finished: Exchange?
            for piece in pieces {
                let output = conversation.received(ByteBuffer(bytes: piece), now: at(1))
                written += output.write
                if let done = output.finished { finished = done }
            }
            #expect(written == bytes("PWR?\r"))  // the command only after the whole handshake reply
            #expect(finished?.replies.map(\.text) == ["ON"])
        }
        var refused = DeviceConversation(
            commands: [bytes("PWR?")], configuration: settings, device: device, startedAt: t0)
        _ = refused.connected(now: at(0))
        let error = refused.received(ByteBuffer(bytes: bytes("ESC/VP.net") + [0x10, 0x03, 0, 0, 0x53, 0]), now: at(1))
            .finished?.error
        #expect(error?.code == .sessionRefused)
        #expect(error?.mayHaveDelivered == false)

        // A reply with headers (here one Projector-Name header): they are the session's, not the first reply.
        var named = DeviceConversation(
            commands: [bytes("PWR?")], configuration: settings, device: device, startedAt: t0)
        _ = named.connected(now: at(0))
        let header: [UInt8] = [0x03, 0x00] + bytes("EB-2250U") + [UInt8](repeating: 0, count: 8)
        let withHeader = bytes("ESC/VP.net") + [0x10, 0x03, 0, 0, 0x20, 0x01] + header + bytes("PWR=01\r:")
        #expect(named.received(ByteBuffer(bytes: withHeader), now: at(1)).finished?.replies.map(\.text) == ["PWR=01"])

        // With a password: CONNECT carries it in a Password header (identifier 1), NUL-padded to 16 bytes.
        var locked = settings
        locked.password = "secret"
        var withPassword = DeviceConversation(
            commands: [bytes("PWR?")], configuration: locked, device: device, startedAt: t0)
        #expect(
            withPassword.connected(now: at(0)).write
                == bytes("ESC/VP.net") + [0x10, 0x03, 0, 0, 0, 1, 0x01, 0x01] + bytes("secret")
                + [UInt8](repeating: 0, count: 10))

        var cut = DeviceConversation(commands: [bytes("PWR?")], configuration: settings, device: device, startedAt: t0)
        _ = cut.connected(now: at(0))
        #expect(
            cut.peerClosed(now: at(1)).finished?.error?.detail == "closed during the handshake (no command was sent)")
    }

    @Test func pjlinkGreetingLoginAndRefusals() {
        let preset = DevicePreset.builtin(named: "pjlink")!
        func conversation(password: String?) -> DeviceConversation {
            var settings = configuration(preset.format, password: password)
            settings.session = preset.session
            return DeviceConversation(
                commands: [bytes("%1POWR ?")], configuration: settings, device: device, startedAt: t0)
        }
        // The specification's own example: random 498e4a67, password JBMIAProjectorLink.
        for pieces in splits(bytes("PJLINK 1 498e4a67\r")) {
            var login = conversation(password: "JBMIAProjectorLink")
            #expect(login.connected(now: at(0)).write.isEmpty)  // the device speaks first
            let written = pieces.reduce(into: [UInt8]()) {
                $0 += login.received(ByteBuffer(bytes: $1), now: at(1)).write
            }
            #expect(written == bytes("5d8409bc1c3fa39749434aa3a5c38682%1POWR ?\r"))
        }
        var open = conversation(password: nil)
        _ = open.connected(now: at(0))
        #expect(open.received(ByteBuffer(bytes: bytes("PJLINK 0\r")), now: at(1)).write == bytes("%1POWR ?\r"))

        var needsPassword = conversation(password: nil)
        _ = needsPassword.connected(now: at(0))
        #expect(
            needsPassword.received(ByteBuffer(bytes: bytes("PJLINK 1 498e4a67\r")), now: at(1)).finished?.error?.detail
                == "the device asks for a PJLink password (give --password, or fleetcmd_password in the inventory)")

        var wrong = conversation(password: "nope")
        _ = wrong.connected(now: at(0))
        _ = wrong.received(ByteBuffer(bytes: bytes("PJLINK 1 498e4a67\r")), now: at(1))
        let refused = wrong.received(ByteBuffer(bytes: bytes("PJLINK ERRA\r")), now: at(2)).finished?.error
        #expect(refused?.code == .sessionRefused && refused?.detail == "PJLink authentication failed (wrong password)")

        var busy = conversation(password: nil)
        _ = busy.connected(now: at(0))
        #expect(
            busy.received(ByteBuffer(bytes: bytes("PJLINK ERRA\r")), now: at(1)).finished?.error?.detail
                == "PJLINK ERRA (the projector takes no connection now)")

        var silent = conversation(password: nil)
        _ = silent.connected(now: at(0))
        #expect(
            silent.peerClosed(now: at(1)).finished?.error?.detail == "closed during the greeting (no command was sent)")
    }

    @Test func withTLSNothingIsWrittenBeforeTheHandshake() {
        var settings = configuration()
        settings.tls = try! ClientTLS(ClientTLSSettings(insecure: true))
        var conversation = DeviceConversation(
            commands: [bytes("A")], configuration: settings, device: device, startedAt: t0)
        let connected = conversation.connected(now: at(0))
        #expect(connected.write.isEmpty && !connected.halfClose)
        let ready = conversation.tlsEstablished(now: at(3))
        #expect(ready.write == [0x1B, 0x41, 0x0D] && ready.halfClose)
        // A reply that happens to start like a TLS record is a reply here: the transport is TLS already.
        #expect(
            conversation.received(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00]), now: at(4)).finished?.replies.count == 1)
    }

    @Test func transportFailuresAreClassifiedOnce() {
        var refused = oneShot(["A"])
        refused.connecting(now: at(0))
        let error = refused.failed(errno: ECONNREFUSED, now: at(1)).finished?.error
        #expect(error?.description == "failed to connect to device 10.0.0.7:9100: connection refused")
        #expect(refused.failed(errno: ECONNRESET, now: at(2)).finished == nil)  // already over

        var reset = oneShot(["A"])
        _ = reset.connected(now: at(0))
        let resetError = reset.failed(errno: ECONNRESET, now: at(1)).finished?.error
        #expect(resetError?.code == .reset && resetError?.mayHaveDelivered == true)
    }

    @Test func interactiveRepliesTimeoutsAndClose() {
        var shell = DeviceConversation(
            interactiveWith: configuration(reply: .seconds(1)), device: device, startedAt: t0)
        guard case .opened = shell.connected(now: at(0)).notice else { Issue.record("not opened"); return }
        let sent = shell.send(bytes("PING"), now: at(1))
        #expect(sent.write == [0x1B] + bytes("PING") + [0x0D] && !sent.halfClose)
        let second = shell.send(bytes("NOW"), now: at(1))
        guard case .replyFailed(let busy) = second.notice else { Issue.record("second command accepted"); return }
        #expect(busy.detail == "a command is already waiting for its reply")
        for pieces in splits(bytes("PONG\0")) {
            var notice: DeviceConversation.Notice?
            for piece in pieces { notice = shell.received(ByteBuffer(bytes: piece), now: at(3)).notice ?? notice }
            guard case .reply(let reply) = notice else { Issue.record("no reply"); return }
            #expect(reply.text == "PONG")
            _ = shell.send(bytes("PING"), now: at(3))
        }
        // A reply that does not come fails that command; the connection stays open.
        guard case .replyFailed(let timeout) = shell.deadlinePassed(now: at(1003)).notice else {
            Issue.record("no timeout"); return
        }
        #expect(timeout.detail == "timed out after 1s waiting for a reply")
        #expect(!shell.isClosed)
        _ = shell.send(bytes("PING"), now: at(1100))
        guard case .replyFailed(let closed) = shell.peerClosed(now: at(1200)).notice else {
            Issue.record("close not reported"); return
        }
        #expect(closed.detail == "the device closed the connection" && shell.isClosed)
        guard case .replyFailed(let after) = shell.send(bytes("PING"), now: at(1300)).notice else {
            Issue.record("sent on a closed connection"); return
        }
        #expect(after.code == .closedEarly)
    }

    /// Interactive: a frame with no command waiting is the device's own (an event): delivered at once, not kept
    /// as the next command's reply; an idle session the device closes is reported when it happens.
    @Test func interactivePushedFramesAndAnIdleClose() {
        var shell = DeviceConversation(
            interactiveWith: configuration(reply: .seconds(1)), device: device, startedAt: t0)
        _ = shell.connected(now: at(0))
        let pushed = shell.received(ByteBuffer(bytes: bytes("EVT 1\0EVT 2\0")), now: at(1))
        #expect(pushed.unsolicited.map(\.text) == ["EVT 1", "EVT 2"])
        #expect(pushed.notice == nil)
        _ = shell.send(bytes("PING"), now: at(2))
        guard case .reply(let reply) = shell.received(ByteBuffer(bytes: bytes("PONG\0")), now: at(3)).notice else {
            Issue.record("no reply"); return
        }
        #expect(reply.text == "PONG")
        let closed = shell.peerClosed(now: at(4))
        guard case .closed(let error) = closed.notice else { Issue.record("idle close not reported"); return }
        #expect(error.code == .closedEarly && closed.close)
    }

    @Test func interactiveSessionTimeoutFailsTheOpening() {
        let preset = DevicePreset.builtin(named: "pjlink")!
        var settings = configuration(preset.format, reply: .seconds(2))
        settings.session = preset.session
        var shell = DeviceConversation(interactiveWith: settings, device: device, startedAt: t0)
        #expect(shell.connected(now: at(0)).notice == nil)
        let output = shell.deadlinePassed(now: at(2000))
        guard case .openFailed(let error) = output.notice else { Issue.record("opening not failed"); return }
        #expect(error.detail == "timed out after 2s waiting for the session")
        #expect(output.close)
    }

    /// Each simulator fault as the wire events it makes (written from the fault's definition in FleetSimulator, not
    /// run through it), and the outcome and text the conversation gives for it.
    @Test func everySimulatorFaultAsEvents() {
        enum Event { case refused, connect, bytes([UInt8]), wait(Int), reset, close }
        let reply = bytes("READY 42\0")
        let half = Array(reply.prefix(4))
        let cases: [(fault: String, events: [Event], code: DeviceError.Code?, detail: String?)] = [
            ("refuse", [.refused], .refused, "connection refused"),
            ("never-read", [.connect, .wait(10_000)], .replyTimeout, "timed out after 10s waiting for a reply"),
            ("never-reply", [.connect, .wait(10_000)], .replyTimeout, "timed out after 10s waiting for a reply"),
            ("latency", [.connect, .wait(300), .bytes(reply)], nil, nil),
            ("drip", [.connect] + reply.flatMap { [Event.wait(20), .bytes([$0])] }, nil, nil),
            ("reset-mid-reply", [.connect, .bytes(half), .reset], .reset, "connection reset by peer"),
            (
                "close-before-terminator", [.connect, .bytes(Array(reply.dropLast())), .close], .closedEarly,
                "closed before the reply was complete (got 8 bytes, no NUL)"
            ),
            (
                "garbage", [.connect, .bytes(Array(repeating: 0x7E, count: 64)), .wait(10_000)], .replyTimeout,
                "timed out after 10s waiting for a reply (64 bytes of a partial reply, no NUL)"
            ),
            (
                "oversized", [.connect, .bytes(Array(repeating: 0x41, count: 70_000))], .tooLarge,
                "reply exceeds 64 KiB"
            ),
            (
                "missing-terminator", [.connect, .bytes(Array(reply.dropLast())), .wait(10_000)], .replyTimeout,
                "timed out after 10s waiting for a reply (8 bytes of a partial reply, no NUL)"
            ),
            ("fin-intolerant", [.connect, .close], .closedEarly, "closed without replying"),
            ("single-session (second connection)", [.connect, .close], .closedEarly, "closed without replying"),
            ("flapping (down)", [.refused], .refused, "connection refused"),
        ]
        for (fault, events, code, detail) in cases {
            var conversation = oneShot(["STATUS"], configuration(maxReply: 64 << 10))
            conversation.connecting(now: at(0))
            var clock = 0
            var finished: Exchange?
            for event in events where finished == nil {
                let output: DeviceConversation.Output
                switch event {
                case .refused: output = conversation.failed(errno: ECONNREFUSED, now: at(clock))
                case .connect: output = conversation.connected(now: at(clock))
                case .bytes(let chunk): output = conversation.received(ByteBuffer(bytes: chunk), now: at(clock))
                case .wait(let milliseconds):
                    clock += milliseconds
                    output = conversation.deadlinePassed(now: at(clock))
                case .reset: output = conversation.failed(errno: ECONNRESET, now: at(clock))
                case .close: output = conversation.peerClosed(now: at(clock))
                }
                finished = output.finished
            }
            #expect(finished != nil, "\(fault): the conversation did not end")
            #expect(finished?.error?.code == code, "\(fault)")
            #expect(finished?.error?.detail == detail, "\(fault)")
            if code == nil { #expect(finished?.replies.map(\.text) == ["READY 42"], "\(fault)") }
        }
    }

    // MARK: - Families from their manuals: HP PJL (replies only to readbacks, a job between UELs), Extron SIS

    private func presetConfiguration(_ name: String) -> DeviceClient.Configuration {
        let preset = DevicePreset.builtin(named: name)!
        var settings = configuration(preset.format, halfClose: preset.halfClose, session: preset.session)
        settings.replies = preset.replies
        return settings
    }

    @Test func pjlSetGetsNoReplyAndTheInfoReplyIsFiledUnderInfo() {
        let uel = DevicePreset.uel
        var pjl = oneShot(["@PJL SET COPIES=2", "@PJL INFO ID", "@pjl set duplex=on"], presetConfiguration("hp-pjl"))
        let opened = pjl.connected(now: at(0))
        // The manual's job: UEL, the commands one per line, the closing UEL; all at once (the reply ends with FF).
        #expect(opened.write == uel + bytes("@PJL SET COPIES=2\n@PJL INFO ID\n@pjl set duplex=on\n") + uel)
        #expect(opened.finished == nil)
        let done = feed(&pjl, [bytes("@PJL INFO ID\r\n\"HP LaserJet\"\r\n\u{0C}")]).finished
        #expect(done?.error == nil && done?.isComplete == true)
        #expect(done?.replies.map(\.isAbsent) == [true, false, true])
        #expect(done?.replies[1].payload == bytes("@PJL INFO ID\r\n\"HP LaserJet\"\r\n"))
    }

    @Test func pjlCommandsThatGetNoReplyEndTheConversationOnceWritten() {
        var pjl = oneShot(["@PJL SET COPIES=2", "@PJL ENTER LANGUAGE=PCL"], presetConfiguration("hp-pjl"))
        let opened = pjl.connected(now: at(0))
        #expect(opened.write.count > 0 && opened.close)
        #expect(opened.finished?.error == nil && opened.finished?.replies.allSatisfy(\.isAbsent) == true)
    }

    @Test func pjlATimeoutStillCountsTheSilentCommandBeforeItAsSent() {
        var pjl = oneShot(["@PJL SET COPIES=2", "@PJL INFO ID"], presetConfiguration("hp-pjl"))
        _ = pjl.connected(now: at(0))
        let failed = pjl.deadlinePassed(now: at(10_000)).finished
        #expect(failed?.error?.code == .replyTimeout)
        #expect(failed?.replies.map(\.isAbsent) == [true])
    }

    @Test func pjlInteractiveCommandsOpenTheJobOnceAndCloseItAtTheEnd() {
        var shell = DeviceConversation(interactiveWith: presetConfiguration("hp-pjl"), device: device, startedAt: t0)
        _ = shell.connected(now: at(0))
        let set = shell.send(bytes("@PJL SET COPIES=2"), now: at(1))
        #expect(set.write == DevicePreset.uel + bytes("@PJL SET COPIES=2\n"))
        guard case .reply(let absent) = set.notice else {
            Issue.record("a command without reply is done once written")
            return
        }
        #expect(absent.isAbsent)
        let info = shell.send(bytes("@PJL INFO ID"), now: at(2))
        #expect(info.write == bytes("@PJL INFO ID\n"))
        #expect(info.notice == nil)
        #expect(shell.closing().write == DevicePreset.uel)
    }

    @Test func extronBannerAndDateLineAreTheGreetingNotTheFirstReply() {
        let banner = bytes("(c) Copyright 2026, Extron Electronics, DXP 44, V1.02, 60-1146-01\r\n")
        let date = bytes("Wed, 02 Dec 2026 08:00:00\r\n")
        for pieces in [[banner + date], [banner, date], [banner]] {
            var extron = oneShot(["Q", "1!"], presetConfiguration("extron-sis"))
            #expect(extron.connected(now: at(0)).write.isEmpty)  // the device speaks first
            var written: [UInt8] = []
            for piece in pieces { written += extron.received(ByteBuffer(bytes: piece), now: at(1)).write }
            #expect(written.isEmpty)  // still greeting until it is quiet
            #expect(extron.deadlinePassed(now: at(150)).write.isEmpty)
            let opened = extron.deadlinePassed(now: at(201))
            #expect(opened.write == bytes("Q1!"))  // basic commands: no Esc, no CR
            let done = feed(&extron, [bytes("1.02\r\nIn1 All\r\n")], now: 210).finished
            #expect(done?.replies.map(\.text) == ["1.02", "In1 All"])
            #expect(done?.greeting.count == pieces.flatMap { $0 }.split(separator: 0x0A).count)
        }
    }

    @Test func extronEscCommandsEndWithCR() {
        var extron = oneShot(["\u{1B}CN"], presetConfiguration("extron-sis"))
        _ = extron.connected(now: at(0))
        _ = extron.received(ByteBuffer(bytes: bytes("(c) Copyright 2026, Extron Electronics\r\n")), now: at(1))
        #expect(extron.deadlinePassed(now: at(201)).write == bytes("\u{1B}CN\r"))
    }

    @Test func aGreetingThatNeverEndsIsRefused() {
        var extron = oneShot(["Q"], presetConfiguration("extron-sis"))
        _ = extron.connected(now: at(0))
        var last = DeviceConversation.Output()
        for index in 0..<20 where last.finished == nil {
            last = extron.received(ByteBuffer(bytes: bytes("line \(index)\r\n")), now: at(index))
        }
        #expect(last.finished?.error?.code == .sessionRefused)
    }
}
