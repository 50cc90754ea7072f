import Foundation
import NIOConcurrencyHelpers
public import NIOCore
public import NIOSSL
import NIOTLS

/// The agent's TLS settings: its certificate and key, and whether (and against which CA) clients must present
/// certificates of their own (mutual TLS).
public struct ServerTLSSettings: Sendable, Hashable {
    /// Whether clients must, may, or need not present a certificate.
    public enum ClientVerification: String, Sendable, Hashable, CaseIterable {
        /// No client certificate is asked for.
        case none
        /// A client certificate, when presented, must verify; clients without one are let in (with no identity).
        case optional
        /// Every client must present a certificate issued by the client CA: mutual TLS.
        case require
    }

    public var certificateFile: String
    public var keyFile: String
    /// PEM file of the CAs that issue client certificates.
    public var clientCAFile: String?
    /// Default: ``ClientVerification/require`` when ``clientCAFile`` is set, else ``ClientVerification/none``.
    public var clientVerification: ClientVerification

    public init(
        certificateFile: String, keyFile: String, clientCAFile: String? = nil,
        clientVerification: ClientVerification? = nil
    ) {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.clientCAFile = clientCAFile
        self.clientVerification = clientVerification ?? (clientCAFile == nil ? .none : .require)
    }
}

/// The agent's TLS context, reloadable: ``reload()`` reads the files again (SIGHUP) and new connections get the
/// new certificate, while connections already open keep theirs.
public final class ServerTLS: Sendable {
    public let settings: ServerTLSSettings
    private let context: NIOLockedValueBox<NIOSSLContext>
    private let summaryBox: NIOLockedValueBox<String>

    public init(_ settings: ServerTLSSettings) throws {
        self.settings = settings
        let (context, summary) = try Self.makeContext(settings)
        self.context = NIOLockedValueBox(context)
        self.summaryBox = NIOLockedValueBox(summary)
    }

    /// The context for the next connection.
    public var current: NIOSSLContext { context.withLockedValue { $0 } }

    /// What the loaded certificate is, for logs: subject, expiry, key pin.
    public var summary: String { summaryBox.withLockedValue { $0 } }

    /// Reads the certificate, key and client CA files again. On failure the previous context stays in use.
    public func reload() throws {
        let (fresh, summary) = try Self.makeContext(settings)
        context.withLockedValue { $0 = fresh }
        summaryBox.withLockedValue { $0 = summary }
    }

    /// Adds the server TLS handler and a handshake deadline to a new connection's pipeline.
    public func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations, handshakeTimeout: Duration) throws {
        try pipeline.addHandler(NIOSSLServerHandler(context: current))
        try pipeline.addHandler(TLSServerGuard(timeout: handshakeTimeout))
    }

    /// The identity of the client certificate on a TLS connection, once the handshake completed; `nil` when the
    /// client presented none (or the connection is not TLS).
    public static func peerIdentity(of pipeline: ChannelPipeline.SynchronousOperations) -> ClientIdentity? {
        guard let handler = try? pipeline.handler(type: NIOSSLServerHandler.self),
            let certificate = handler.peerCertificate
        else { return nil }
        return try? ClientIdentity(certificate)
    }

    /// Whether `pipeline` carries TLS.
    public static func isTLS(_ pipeline: ChannelPipeline.SynchronousOperations) -> Bool {
        (try? pipeline.handler(type: NIOSSLServerHandler.self)) != nil
    }

    /// TLS 1.2 suites of Mozilla's "intermediate" profile that BoringSSL has: ECDHE key exchange (forward secret)
    /// with AEAD ciphers only; no static RSA, no CBC, no SHA-1. TLS 1.3 suites are all AEAD and stay as they are.
    static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    static func makeContext(_ settings: ServerTLSSettings) throws -> (NIOSSLContext, String) {
        let (chain, key) = try loadIdentity(certificateFile: settings.certificateFile, keyFile: settings.keyFile)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = Self.tls12CipherSuites
        switch settings.clientVerification {
        case .none:
            configuration.certificateVerification = .none
        case .optional, .require:
            guard let caFile = settings.clientCAFile else {
                throw TLSSetupError("client verification '\(settings.clientVerification)' needs a client CA file")
            }
            _ = try PEMFiles.certificates(at: caFile, what: "client CA file")  // a clear error for a bad file
            let roots: [NIOSSLCertificate]
            do {
                roots = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw TLSSetupError("client CA file \(caFile) cannot be loaded (PEM certificates expected)")
            }
            configuration.trustRoots = .certificates(roots)
            configuration.sendCANameList = true
            configuration.certificateVerification =
                settings.clientVerification == .require ? .noHostnameVerification : .optionalVerification
        }
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(
                "cannot use certificate \(settings.certificateFile) with key \(settings.keyFile) (do they belong "
                    + "together? \(TLSFailure.reasonCode(in: "\(error)") ?? "unusable"))")
        }
        let leaf = try ClientIdentity(chain[0])
        let pin = (try? CertificatePin(of: chain[0])).map { "\($0)" } ?? "?"
        return (context, "\(leaf) pin \(pin)")
    }

    /// Reads a certificate chain and its private key, with errors that name the files.
    static func loadIdentity(certificateFile: String, keyFile: String) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey)
    {
        _ = try PEMFiles.certificates(at: certificateFile)  // a readable, parseable file, or a clear error
        _ = try PEMFiles.read(keyFile, what: "key file")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw TLSSetupError("certificate file \(certificateFile) cannot be loaded (PEM certificates expected)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw TLSSetupError("key file \(keyFile) cannot be loaded (PEM private key expected)")
        }
        return (chain, key)
    }
}

/// Closes a server connection whose TLS handshake does not complete in time (a client that connects and stays
/// silent must not hold a connection slot for the whole idle timeout).
final class TLSServerGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let timeout: Duration
    private var timer: Scheduled<Void>?

    init(timeout: Duration) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { timer?.cancel() }
        context.fireUserInboundEventTriggered(event)
    }
}
