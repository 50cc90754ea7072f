import FleetAgent
import FleetAgentConfig
import FleetClient
import FleetRunner
import FleetTLS
import FleetTestSupport
import Foundation
import NIOCore
import NIOSSL
import Testing

private func tlsAgent(_ settings: ServerTLSSettings, plaintext: String? = nil) -> DeviceAgent.Configuration {
    var listen = [DeviceAgent.ListenAddress(host: "127.0.0.1", port: 0, tls: true)]
    if let plaintext { listen.append(.init(host: plaintext, port: 0)) }
    var configuration = DeviceAgent.Configuration(listen: listen)
    configuration.tls = settings
    return configuration
}

private func routerWithSecret() -> CommandRouter {
    var router = CommandRouter.builtins
    router.add(
        CommandRouter.Route(matcher: .exact("SECRET"), action: .reply("OK secret"), name: "SECRET", allow: ["CN=ops"]))
    router.on("WHOAMI", immediate: { request in .text(request.identity.map { "\($0)" } ?? "nobody") })
    return router
}

private func local(_ port: Int) -> DeviceAddress { DeviceAddress(host: "127.0.0.1", port: port) }

@Suite struct MutualTLSTests {
    let fixture: TLSFixture

    init() throws { fixture = try TLSFixture() }

    @Test func roundTripWithClientIdentity() async throws {
        let client = try fixture.client(certificate: "ops")
        try await withAgent(tlsAgent(fixture.server()), router: routerWithSecret()) { ports, _ in
            let exchange = await client.exchange(["PING", "WHOAMI", "SECRET"].map(bytes), with: local(ports[0]))
            #expect(exchange.error == nil)
            #expect(exchange.replies.map(\.text) == ["PONG", "CN=ops", "OK secret"])
        }
    }

    @Test func authorizationByCertificateIdentity() async throws {
        let viewer = try fixture.client(certificate: "viewer")
        try await withAgent(tlsAgent(fixture.server()), router: routerWithSecret()) { ports, agent in
            let exchange = await viewer.exchange(["WHOAMI", "SECRET"].map(bytes), with: local(ports[0]))
            #expect(exchange.replies.map(\.text) == ["CN=viewer", "ERR forbidden"])
            #expect(agent.stats.snapshot.forbidden == 1)
        }
    }

    @Test func refusesClientWithoutCertificate() async throws {
        let anonymous = try fixture.client(certificate: nil)
        try await withAgent(tlsAgent(fixture.server())) { ports, agent in
            let exchange = await anonymous.exchange([bytes("PING")], with: local(ports[0]))
            let error = try #require(exchange.error)
            #expect(exchange.replies.isEmpty)
            #expect(error.code == .tls)
            #expect(error.tlsKind == .clientCertificateRequired)
            #expect(error.description.contains("requires a client certificate"))
            #expect(!error.mayHaveDelivered)
        }
    }

    @Test func refusesClientCertificateFromAnotherCA() async throws {
        let stranger = try fixture.client(certificate: "stranger-ops")
        try await withAgent(tlsAgent(fixture.server())) { ports, agent in
            let exchange = await stranger.exchange([bytes("PING")], with: local(ports[0]))
            let error = try #require(exchange.error)
            #expect(exchange.replies.isEmpty)
            #expect(error.tlsKind == .clientCertificateRejected)
            #expect(agent.stats.snapshot.tlsFailures >= 1)
        }
    }

    @Test func refusesExpiredClientCertificate() async throws {
        let expired = try fixture.client(certificate: "expired-ops")
        try await withAgent(tlsAgent(fixture.server())) { ports, _ in
            let exchange = await expired.exchange([bytes("PING")], with: local(ports[0]))
            #expect(exchange.replies.isEmpty)
            #expect(exchange.error?.tlsKind == .clientCertificateRejected)
            #expect(exchange.error?.description.contains("expired") == true)
        }
    }

    @Test func optionalVerificationLetsAnonymousClientsInWithoutIdentity() async throws {
        let anonymous = try fixture.client(certificate: nil)
        try await withAgent(tlsAgent(fixture.server(verification: .optional)), router: routerWithSecret()) { ports, _ in
            let exchange = await anonymous.exchange(["WHOAMI", "SECRET"].map(bytes), with: local(ports[0]))
            #expect(exchange.error == nil)
            #expect(exchange.replies.map(\.text) == ["nobody", "ERR forbidden"])
        }
    }
}

@Suite struct ServerCertificateCheckTests {
    let fixture: TLSFixture

    init() throws { fixture = try TLSFixture() }

    @Test func nameIsCheckedAgainstADNSOnlyCertificate() async throws {
        // The certificate names only DNS:device.test: no IP SAN can mask the check.
        try await withAgent(tlsAgent(fixture.server("dns-only"))) { ports, _ in
            let wrongName = try fixture.client(serverName: "other.test")
            let wrong = await wrongName.exchange([bytes("PING")], with: local(ports[0]))
            #expect(wrong.error?.tlsKind == .nameMismatch)
            #expect(wrong.error?.description.contains("DNS:device.test") == true)
            #expect(wrong.replies.isEmpty)

            let byAddress = try fixture.client()
            #expect(await byAddress.exchange([bytes("PING")], with: local(ports[0])).error?.tlsKind == .nameMismatch)

            let rightName = try fixture.client(serverName: "device.test")
            let right = await rightName.exchange([bytes("PING")], with: local(ports[0]))
            #expect(right.error == nil)
            #expect(right.replies.map(\.text) == ["PONG"])
        }
    }

    @Test func expiredServerCertificateIsRejected() async throws {
        try await withAgent(tlsAgent(fixture.server("expired"))) { ports, _ in
            let exchange = await (try fixture.client()).exchange([bytes("PING")], with: local(ports[0]))
            #expect(exchange.error?.tlsKind == .expired)
            #expect(exchange.error?.description.contains("expired on") == true)
        }
    }

    @Test func unknownCAIsRejected() async throws {
        try await withAgent(tlsAgent(fixture.server())) { ports, _ in
            let strangerTrust = try fixture.client(caFile: "stranger-ca.pem")
            let exchange = await strangerTrust.exchange([bytes("PING")], with: local(ports[0]))
            #expect(exchange.error?.tlsKind == .unknownCA)
            let systemTrust = try fixture.client(caFile: nil)
            #expect(await systemTrust.exchange([bytes("PING")], with: local(ports[0])).error?.tlsKind == .unknownCA)
        }
    }

    @Test func pinsReplaceTheCAChain() async throws {
        let agentPin = try CertificatePin(of: .fromPEMFile(fixture.path("agent.pem"))[0]).description
        let otherPin = try CertificatePin(of: .fromPEMFile(fixture.path("second.pem"))[0]).description
        try await withAgent(tlsAgent(fixture.server())) { ports, _ in
            // No CA trusted at all (system store), but the right pin: accepted.
            let pinned = try fixture.client(caFile: nil, pins: [agentPin])
            let ok = await pinned.exchange([bytes("PING")], with: local(ports[0]))
            #expect(ok.error == nil)
            #expect(ok.replies.map(\.text) == ["PONG"])
            let wrong = try fixture.client(caFile: nil, pins: [otherPin])
            let refused = await wrong.exchange([bytes("PING")], with: local(ports[0]))
            #expect(refused.error?.tlsKind == .pinMismatch)
            #expect(refused.error?.description.contains(agentPin) == true)
        }
    }

    @Test func handshakeTimeoutIsItsOwnFailure() async throws {
        let silent = try await ScriptedDevice.start(behavior: .silent)
        let settings = ClientTLSSettings(caFile: fixture.path("ca.pem"), handshakeTimeout: .milliseconds(300))
        var configuration = DeviceClient.Configuration()
        configuration.tls = try ClientTLS(settings)
        let exchange = await DeviceClient(configuration: configuration).exchange(
            [bytes("PING")], with: local(silent.port))
        await silent.stop()
        #expect(exchange.error?.tlsKind == .handshakeTimeout)
        #expect(exchange.error?.code == .tls)
        // The device saw the ClientHello, never the command.
        #expect(!silent.requests.contains { Array($0).containsSequence(bytes("PING")) })
    }

    @Test func aPlaintextDeviceIsReportedAsNotTLS() async throws {
        // A device that speaks first (a greeting) answers the ClientHello with bytes that are not a TLS record.
        var configuration = DeviceAgent.Configuration(listen: [.init(host: "127.0.0.1", port: 0)])
        configuration.session = AgentSession(greeting: Array("PJLINK 0\r".utf8))
        try await withAgent(configuration) { ports, _ in
            let exchange = await (try fixture.client()).exchange([bytes("PING")], with: local(ports[0]))
            #expect(exchange.error?.tlsKind == .notTLS)
            #expect(exchange.error?.description.contains("did not answer with TLS (is this a plaintext port?)") == true)
        }
    }

    @Test func probeReportsTheCertificate() async throws {
        try await withAgent(tlsAgent(fixture.server(verification: .none))) { ports, _ in
            let result = await (try fixture.client(certificate: nil)).probeDetailed(local(ports[0]))
            let probe = try result.get()
            let tls = try #require(probe.tls)
            #expect(tls.names == "CN=agent, DNS:device.test, IP:127.0.0.1")
            #expect(tls.issuer == "CN=test fleet CA")
            #expect(tls.pin == (try CertificatePin(of: .fromPEMFile(fixture.path("agent.pem"))[0]).description))
        }
    }

    @Test func reloadSwapsTheCertificateWithoutDroppingOpenConnections() async throws {
        let working = fixture.path("live")
        try FileManager.default.copyItem(atPath: fixture.path("agent.pem"), toPath: working + ".pem")
        try FileManager.default.copyItem(atPath: fixture.path("agent.key"), toPath: working + ".key")
        let firstPin = try CertificatePin(of: .fromPEMFile(fixture.path("agent.pem"))[0]).description
        let secondPin = try CertificatePin(of: .fromPEMFile(fixture.path("second.pem"))[0]).description
        // SLOW answers only once the test lets it: the conversation stays open across the reload.
        let (started, startedSink) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseSink) = AsyncStream.makeStream(of: Void.self)
        var router = CommandRouter.builtins
        router.on("SLOW") { _ in
            startedSink.yield()
            for await _ in release { break }
            return .text("done")
        }
        try await withAgent(tlsAgent(fixture.server("live")), router: router) { ports, agent in
            let oldKey = try fixture.client(caFile: nil, pins: [firstPin])
            let newKey = try fixture.client(caFile: nil, pins: [secondPin])
            async let slow = oldKey.exchange(["PING", "SLOW"].map(bytes), with: local(ports[0]))
            for await _ in started { break }  // the slow conversation is open, its command running
            for suffix in [".pem", ".key"] {
                try FileManager.default.removeItem(atPath: working + suffix)
                try FileManager.default.copyItem(atPath: fixture.path("second" + suffix), toPath: working + suffix)
            }
            let summary = try agent.reloadTLS()
            #expect(summary?.contains(secondPin) == true)
            releaseSink.yield()
            let open = await slow
            #expect(open.error == nil)
            #expect(open.replies.map(\.text) == ["PONG", "done"])
            #expect(await newKey.exchange([bytes("PING")], with: local(ports[0])).replies.map(\.text) == ["PONG"])
            #expect(await oldKey.exchange([bytes("PING")], with: local(ports[0])).error?.tlsKind == .pinMismatch)
            // A broken file keeps the loaded certificate.
            try "not a certificate".write(toFile: working + ".pem", atomically: true, encoding: .utf8)
            #expect(throws: TLSSetupError.self) { try agent.reloadTLS() }
            #expect(await newKey.exchange([bytes("PING")], with: local(ports[0])).replies.map(\.text) == ["PONG"])
        }
    }

    @Test func tlsFailuresAreARunOutcomeAndNeverRetried() async throws {
        try await withAgent(tlsAgent(fixture.server(), plaintext: "127.0.0.1")) { ports, _ in
            let good = try ClientTLS(
                ClientTLSSettings(
                    caFile: fixture.path("ca.pem"), certificateFile: fixture.path("ops.pem"),
                    keyFile: fixture.path("ops.key")))
            let noCertificate = try ClientTLS(ClientTLSSettings(caFile: fixture.path("ca.pem")))
            let targets = [
                RunTarget(name: "good", host: "127.0.0.1", port: ports[0], tls: good),
                RunTarget(name: "no-cert", host: "127.0.0.1", port: ports[0], tls: noCertificate),
                RunTarget(name: "plaintext-port", host: "127.0.0.1", port: ports[1], tls: good),
                RunTarget(name: "plain", host: "127.0.0.1", port: ports[1]),
            ]
            let runner = FleetRunner(configuration: .init(commands: [bytes("PING")], forks: 4))
            let results = await runner.run(targets)
            let byName = Dictionary(uniqueKeysWithValues: results.map { ($0.device, $0) })
            #expect(byName["good"]?.outcome == .ok)
            #expect(byName["good"]?.replies == ["PONG"])
            #expect(byName["no-cert"]?.outcome == .tls)
            #expect(byName["no-cert"]?.attempts == 1)
            #expect(byName["plaintext-port"]?.outcome == .tls)
            // What the client hears depends on whether its random ClientHello holds a CR (the plaintext agent then
            // answers, which is not TLS) or not (no answer: a handshake timeout); either way the outcome is `tls`.
            #expect(byName["plaintext-port"]?.error?.contains("TLS:") == true)
            #expect(byName["plain"]?.outcome == .ok)
        }
    }
}

@Suite struct AccessControlTests {
    @Test func networksMatchByPrefixAndDenyWins() throws {
        let list = try AccessList(allow: ["10.0.0.0/8", "::1", "192.168.1.7"], deny: ["10.0.66.0/24"])
        func admits(_ text: String) throws -> Bool { list.admits(try SocketAddress(ipAddress: text, port: 1)) }
        #expect(try admits("10.1.2.3"))
        #expect(try !admits("10.0.66.9"))
        #expect(try !admits("11.0.0.1"))
        #expect(try admits("192.168.1.7"))
        #expect(try !admits("192.168.1.8"))
        #expect(try admits("::1"))
        #expect(try !admits("::2"))
        #expect(try admits("::ffff:10.9.9.9"))  // an IPv4 client on a dual-stack listener
        #expect(AccessList().admits(nil))
        #expect(throws: AccessListError.self) { try AccessList.Network(parsing: "10.0.0.0/33") }
        #expect(throws: AccessListError.self) { try AccessList.Network(parsing: "printer-7") }
    }

    @Test func deniedClientsAreClosedAtAccept() async throws {
        var configuration = DeviceAgent.Configuration(listen: [.init(host: "127.0.0.1", port: 0)])
        configuration.access = try AccessList(allow: ["127.0.0.0/8"], deny: ["127.0.0.1/32"])
        let client = DeviceClient(configuration: .init(timeouts: .init(connect: .seconds(5), reply: .seconds(5))))
        try await withAgent(configuration) { ports, agent in
            let exchange = await client.exchange([bytes("PING")], with: local(ports[0]))
            #expect(exchange.replies.isEmpty)
            #expect(exchange.error != nil)
            #expect(agent.stats.snapshot.accessDenied == 1)
            #expect(agent.stats.snapshot.frames == 0)
        }
        configuration.access = try AccessList(allow: ["127.0.0.1/32"], deny: [])
        try await withAgent(configuration) { ports, _ in
            #expect(await client.exchange([bytes("PING")], with: local(ports[0])).replies.map(\.text) == ["PONG"])
        }
    }

    @Test func execIsRefusedOnExposedPlaintextListeners() async throws {
        var router = CommandRouter.builtins
        router.add(
            CommandRouter.Route(
                matcher: .exact("RUN"), action: .exec(ExecAction(argv: ["/bin/echo", "ran"])), name: "RUN"))
        // 0.0.0.0 is reachable from the network; 127.0.0.1 only from this machine.
        let configuration = DeviceAgent.Configuration(
            listen: [.init(host: "0.0.0.0", port: 0), .init(host: "127.0.0.1", port: 0)])
        let client = DeviceClient(configuration: .init(timeouts: .init(connect: .seconds(5), reply: .seconds(5))))
        try await withAgent(configuration, router: router) { ports, agent in
            let exposed = await client.exchange(["RUN", "PING"].map(bytes), with: local(ports[0]))
            #expect(
                exposed.replies.map(\.text) == [
                    "ERR exec commands are not allowed on a plaintext listener (use TLS with client certificates)",
                    "PONG",
                ])
            #expect(agent.stats.snapshot.forbidden == 1)
            let loopback = await client.exchange([bytes("RUN")], with: local(ports[1]))
            #expect(loopback.replies.map(\.text) == ["ran"])
        }
        var allowed = configuration
        allowed.allowPlaintextExec = true
        try await withAgent(allowed, router: router) { ports, _ in
            #expect(await client.exchange([bytes("RUN")], with: local(ports[0])).replies.map(\.text) == ["ran"])
        }
    }

    @Test func execAllowAppliesToExecRoutesWithoutRulesOfTheirOwn() async throws {
        let fixture = try TLSFixture()
        var router = CommandRouter.builtins
        router.add(
            CommandRouter.Route(
                matcher: .exact("RUN"), action: .exec(ExecAction(argv: ["/bin/echo", "ran"])), name: "RUN"))
        var configuration = tlsAgent(fixture.server())
        configuration.execAllow = ["CN=ops"]
        try await withAgent(configuration, router: router) { ports, _ in
            let ops = await (try fixture.client(certificate: "ops")).exchange([bytes("RUN")], with: local(ports[0]))
            #expect(ops.replies.map(\.text) == ["ran"])
            let viewer = await (try fixture.client(certificate: "viewer")).exchange(
                ["RUN", "PING"].map(bytes), with: local(ports[0]))
            #expect(viewer.replies.map(\.text) == ["ERR forbidden", "PONG"])
        }
    }
}

@Suite struct TLSConfigurationTests {
    @Test func configFileReadsTLSAccessAndAuthorization() throws {
        let file = try AgentConfigFile.parse(
            """
            listen: ["0.0.0.0:9100", "tls://0.0.0.0:9443"]
            tls: {cert: agent.pem, key: /etc/agent.key, client_ca: ca.pem}
            access: {allow: [10.0.0.0/8], deny: [10.0.66.0/24]}
            allow_plaintext_exec: true
            exec_allow: ["CN=ops"]
            commands:
              - {name: REBOOT, exec: {argv: [/sbin/reboot]}, allow: ["DNS:ops.example.com", "CN=admin"]}
            """, path: "/etc/fleetcmd/agent.yaml")
        let configuration = file.configuration
        #expect(configuration.listen.map(\.tls) == [false, true])
        #expect(configuration.tls?.certificateFile == "/etc/fleetcmd/agent.pem")
        #expect(configuration.tls?.keyFile == "/etc/agent.key")
        #expect(configuration.tls?.clientVerification == .require)
        #expect(configuration.access.allow.map(\.description) == ["10.0.0.0/8"])
        #expect(configuration.access.deny.map(\.description) == ["10.0.66.0/24"])
        #expect(configuration.allowPlaintextExec)
        #expect(configuration.execAllow == ["CN=ops"])
        #expect(file.router.routes.last?.allow == ["DNS:ops.example.com", "CN=admin"])
    }

    @Test func configFileReportsEveryTLSProblemByLine() {
        #expect {
            _ = try AgentConfigFile.parse(
                """
                tls: {cert: a.pem, client_verification: sometimes}
                access: {allow: [10.0.0.0/40]}
                exec_allow: ["OU=ops"]
                listen: ["tls://nowhere"]
                """)
        } throws: { error in
            let text = "\(error)"
            return text.contains("<config>:1: client_verification must be none, optional or require")
                && text.contains("<config>:1: tls needs both cert and key")
                && text.contains("<config>:2: '10.0.0.0/40' has a bad prefix length")
                && text.contains("<config>:3: identity rule 'OU=ops'")
                && text.contains("<config>:4: listen entries look like")
        }
    }

    @Test func missingFilesAreNamedInTheError() {
        #expect {
            _ = try ServerTLS(ServerTLSSettings(certificateFile: "/nonexistent/agent.pem", keyFile: "/nonexistent/k"))
        } throws: { error in
            "\(error)" == "cannot read certificate file /nonexistent/agent.pem: no such file"
        }
        #expect {
            _ = try ClientTLS(ClientTLSSettings(caFile: "/nonexistent/ca.pem"))
        } throws: { error in
            "\(error)" == "cannot read CA file /nonexistent/ca.pem: no such file"
        }
    }

    @Test func keysAreWrittenPrivate() throws {
        let fixture = try TLSFixture()
        let attributes = try FileManager.default.attributesOfItem(atPath: fixture.path("agent.key"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func pinsParseInBase64AndHex() throws {
        let digest = (0..<32).map { UInt8($0) }
        let pin = CertificatePin(digest: digest)
        #expect(try CertificatePin(parsing: pin.description) == pin)
        let hex = digest.map { String(format: "%02X", $0) }.joined(separator: ":")
        #expect(try CertificatePin(parsing: "sha256:" + hex) == pin)
        #expect(throws: TLSSetupError.self) { try CertificatePin(parsing: "md5:abcd") }
        #expect(throws: TLSSetupError.self) { try CertificatePin(parsing: "sha256:abcd") }
    }

    @Test func identityRules() throws {
        let identity = ClientIdentity(
            commonNames: ["ops"], dnsNames: ["Ops.Example.com"], ipAddresses: ["10.0.0.5"], emails: ["ops@example.com"])
        #expect(identity.matches("CN=ops"))
        #expect(!identity.matches("CN=Ops"))
        #expect(identity.matches("DNS:ops.example.com"))
        #expect(identity.matches("IP:10.0.0.5"))
        #expect(identity.matches("EMAIL:OPS@example.com"))
        #expect(identity.matches("*"))
        #expect(!identity.matches("URI:spiffe://x"))
        #expect(throws: TLSSetupError.self) { try ClientIdentity.validate(rule: "OU=ops") }
    }
}

extension Array where Element == UInt8 {
    func containsSequence(_ needle: [UInt8]) -> Bool {
        guard count >= needle.count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
