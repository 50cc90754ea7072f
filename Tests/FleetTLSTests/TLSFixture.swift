import FleetAgent
import FleetClient
import FleetTLS
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing

/// Certificates made at test time: a fleet CA and a stranger CA, agent certificates (one with an IP SAN, one with
/// a DNS name only, one expired), and client certificates (ops, viewer, one from the stranger CA, one expired).
final class TLSFixture: Sendable {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "fleetcmd-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let now = Date()
        let fleet = try CertificateAuthority.create(commonName: "test fleet CA")
        let stranger = try CertificateAuthority.create(commonName: "stranger CA")
        try write(fleet.certificatePEM, "ca.pem")
        try write(stranger.certificatePEM, "stranger-ca.pem")
        try save(
            fleet.issue(commonName: "agent", dnsNames: ["device.test"], ipAddresses: ["127.0.0.1"], usage: .server),
            "agent")
        try save(fleet.issue(commonName: "dns-only", dnsNames: ["device.test"], usage: .server), "dns-only")
        try save(fleet.issue(commonName: "second", ipAddresses: ["127.0.0.1"], usage: .server), "second")
        try save(
            fleet.issue(
                commonName: "expired", ipAddresses: ["127.0.0.1"], usage: .server,
                notBefore: now.addingTimeInterval(-10 * 86400), notAfter: now.addingTimeInterval(-86400)), "expired")
        try save(fleet.issue(commonName: "ops", usage: .client), "ops")
        try save(fleet.issue(commonName: "viewer", usage: .client), "viewer")
        try save(stranger.issue(commonName: "ops", usage: .client), "stranger-ops")
        try save(
            fleet.issue(
                commonName: "ops", usage: .client, notBefore: now.addingTimeInterval(-10 * 86400),
                notAfter: now.addingTimeInterval(-86400)), "expired-ops")
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    private func write(_ text: String, _ name: String) throws {
        try PEMFiles.write(text, to: path(name), isSecret: name.hasSuffix(".key"), overwrite: true)
    }

    private func save(_ issued: CertificateAuthority.Issued, _ name: String) throws {
        try write(issued.certificatePEM, name + ".pem")
        try write(issued.keyPEM, name + ".key")
    }

    /// Server settings with `name`'s certificate; mutual TLS against the fleet CA unless `verification` says.
    func server(
        _ name: String = "agent", verification: ServerTLSSettings.ClientVerification = .require
    )
        -> ServerTLSSettings
    {
        ServerTLSSettings(
            certificateFile: path(name + ".pem"), keyFile: path(name + ".key"), clientCAFile: path("ca.pem"),
            clientVerification: verification)
    }

    /// A client that trusts the fleet CA and presents `certificate` (none when `nil`).
    func client(
        certificate: String? = "ops", caFile: String? = "ca.pem", serverName: String? = nil, pins: [String] = []
    ) throws -> DeviceClient {
        let settings = ClientTLSSettings(
            caFile: caFile.map(path), serverName: serverName, pins: pins,
            certificateFile: certificate.map { path($0 + ".pem") }, keyFile: certificate.map { path($0 + ".key") },
            handshakeTimeout: .seconds(5))
        var configuration = DeviceClient.Configuration(timeouts: .init(connect: .seconds(5), reply: .seconds(5)))
        configuration.tls = try ClientTLS(settings)
        return DeviceClient(configuration: configuration)
    }
}

/// Runs an agent, hands every bound port (in listener order) to `body`, then shuts it down.
func withAgent<T: Sendable>(
    _ configuration: DeviceAgent.Configuration, router: CommandRouter = .builtins,
    _ body: @Sendable ([Int], DeviceAgent) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream.makeStream(of: [Int].self)
    let agent = DeviceAgent(
        configuration: configuration, router: router,
        logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    ) { addresses in
        continuation.yield(addresses.map { $0.port ?? 0 })
        continuation.finish()
    }
    return try await testGracefulShutdown { trigger in
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await agent.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let bound = await iterator.next() else {
                for try await _ in group {}
                throw TLSSetupError("the agent did not start")
            }
            let result = try await body(bound, agent)
            trigger.triggerGracefulShutdown()
            for try await value in group where value != nil {}
            return result
        }
    }
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

extension DeviceError {
    /// The TLS failure kind behind this error, when it is one.
    var tlsKind: TLSFailure.Kind? { (underlying as? TLSFailure)?.kind }
}
