import FleetAgent
import FleetClient
import FleetCodec
import FleetFraming
import Testing

/// Device families whose connections start with a greeting, a handshake or a login: the client's side
/// (`DeviceClient` with a preset's session) against the agent's (`AgentSession`), over real sockets.
@Suite struct DeviceSessionTests {
    private static func preset(_ name: String) -> DevicePreset { DevicePreset.builtin(named: name)! }

    private func agentConfiguration(_ preset: DevicePreset, session: AgentSession) -> DeviceAgent.Configuration {
        var configuration = DeviceAgent.Configuration(
            listen: [.init(host: "127.0.0.1", port: 0)], format: preset.format)
        configuration.session = session
        return configuration
    }

    private func client(_ preset: DevicePreset, password: String? = nil) -> DeviceClient {
        var configuration = DeviceClient.Configuration(
            format: preset.format, timeouts: .init(connect: .seconds(5), reply: .seconds(3)), halfClose: .never)
        configuration.session = preset.session
        configuration.password = password
        return DeviceClient(configuration: configuration)
    }

    private var projector: CommandRouter {
        var router = CommandRouter()
        router.on("%1POWR ?", reply: "%1POWR=1")
        router.on("%1NAME ?", reply: "%1NAME=lab")
        router.on("PWR?", reply: "PWR=01\r")
        return router
    }

    @Test func pjlinkWithoutPassword() async throws {
        let pjlink = Self.preset("pjlink")
        let configuration = agentConfiguration(pjlink, session: AgentSession(greeting: Array("PJLINK 0\r".utf8)))
        try await withRunningAgent(configuration: configuration, router: projector) { port, _ in
            let exchange = await client(pjlink).exchange(
                [Array("%1POWR ?".utf8), Array("%1NAME ?".utf8)], with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.error == nil)
            #expect(exchange.replies.map(\.text) == ["%1POWR=1", "%1NAME=lab"])
        }
    }

    @Test func pjlinkLoginRightWrongAndMissingPassword() async throws {
        let pjlink = Self.preset("pjlink")
        let configuration = agentConfiguration(pjlink, session: AgentSession(pjlinkPassword: "JBMIAProjectorLink"))
        try await withRunningAgent(configuration: configuration, router: projector) { port, _ in
            let address = DeviceAddress(host: "127.0.0.1", port: port)
            let right = await client(pjlink, password: "JBMIAProjectorLink").exchange(
                [Array("%1POWR ?".utf8), Array("%1NAME ?".utf8)], with: address)
            #expect(right.error == nil)
            #expect(right.replies.map(\.text) == ["%1POWR=1", "%1NAME=lab"])

            let wrong = await client(pjlink, password: "guess").exchange([Array("%1POWR ?".utf8)], with: address)
            #expect(wrong.error?.code == .sessionRefused)
            #expect(wrong.error?.detail == "PJLink authentication failed (wrong password)")
            #expect(wrong.error?.mayHaveDelivered == false)
            #expect(wrong.replies.isEmpty)

            let missing = await client(pjlink).exchange([Array("%1POWR ?".utf8)], with: address)
            #expect(missing.error?.code == .sessionRefused)
            #expect(missing.error?.detail.contains("asks for a PJLink password") == true)
        }
    }

    @Test func pjlinkDigestMatchesTheSpecificationExample() {
        // JBMIA PJLink specification, class 1: random "498e4a67", password "JBMIAProjectorLink".
        #expect(
            String(decoding: PJLinkLogin.digest(random: "498e4a67", password: "JBMIAProjectorLink"), as: UTF8.self)
                == "5d8409bc1c3fa39749434aa3a5c38682")
    }

    /// ESC/VP.net as the specification gives it: CONNECT, with the password in a Password header when the
    /// projector has one; each refusal named by its status.
    @Test func epsonConnectWithAndWithoutPasswordAndEachRefusal() async throws {
        let epson = Self.preset("epson-escvp21")
        let open = AgentSession(isEscVpNet: true)
        try await withRunningAgent(configuration: agentConfiguration(epson, session: open), router: projector) {
            port, _ in
            let exchange = await client(epson).exchange(
                [Array("PWR?".utf8)], with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.error == nil)
            #expect(exchange.replies.map(\.text) == ["PWR=01"])
        }
        let locked = AgentSession(isEscVpNet: true, escvpnetPassword: "secret")
        try await withRunningAgent(configuration: agentConfiguration(epson, session: locked), router: projector) {
            port, _ in
            let target = DeviceAddress(host: "127.0.0.1", port: port)
            let right = await client(epson, password: "secret").exchange([Array("PWR?".utf8)], with: target)
            #expect(right.error == nil && right.replies.map(\.text) == ["PWR=01"])
            let none = await client(epson).exchange([Array("PWR?".utf8)], with: target)
            #expect(none.error?.code == .sessionRefused)
            #expect(
                none.error?.description
                    == "device \(target) refused the session: 0x41 Unauthorized: "
                    + "the projector needs a password (give --password, or fleetcmd_password in the inventory)")
            let wrong = await client(epson, password: "guess").exchange([Array("PWR?".utf8)], with: target)
            #expect(wrong.error?.detail.hasSuffix("0x43 Forbidden: the password is wrong") == true)
            #expect(wrong.error?.mayHaveDelivered == false)
        }
        var busy = open
        busy.refusesHandshake = true
        try await withRunningAgent(configuration: agentConfiguration(epson, session: busy), router: projector) {
            port, _ in
            let exchange = await client(epson).exchange(
                [Array("PWR?".utf8)], with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.error?.code == .sessionRefused)
            #expect(exchange.error?.detail.contains("0x53 Service Unavailable") == true)
        }
    }

    @Test func zebraHostStatusIsThreeBlocks() async throws {
        let zebra = Self.preset("zebra-hs")
        let status =
            "\u{2}030,0,0,1245,000,0,0,0,000,0,0,0\u{3}\r\n\u{2}000,0,0,0,0,2,4,0,00000000,1,000\u{3}\r\n\u{2}1234,0\u{3}"
        #expect(zebra.format.reply.canFrame(Array(status.utf8)))
        #expect(!zebra.format.reply.canFrame(Array((status + "\r\n" + status).utf8)))
        var router = CommandRouter()
        router.on("~HS", reply: status)
        var configuration = DeviceAgent.Configuration(
            listen: [.init(host: "127.0.0.1", port: 0)],
            format: FrameFormat(name: "zebra-sim", request: .delimited(terminator: [0x0A]), reply: zebra.format.reply))
        configuration.session = nil
        try await withRunningAgent(configuration: configuration, router: router) { port, _ in
            var settings = DeviceClient.Configuration(
                format: FrameFormat(name: "zebra", request: .delimited(terminator: [0x0A]), reply: zebra.format.reply),
                timeouts: .init(connect: .seconds(5), reply: .seconds(3)))
            settings.halfClose = .never
            let exchange = await DeviceClient(configuration: settings).exchange(
                [Array("~HS".utf8)], with: DeviceAddress(host: "127.0.0.1", port: port))
            #expect(exchange.error == nil)
            #expect(exchange.replies.first?.payload == Array(status.utf8))
            #expect(exchange.replies.first?.frame.suffix(3) == [0x03, 0x0D, 0x0A])
        }
    }
}
