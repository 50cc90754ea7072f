import FleetFraming
public import Foundation
import NIOConcurrencyHelpers
public import NIOCore
public import NIOSSL
import NIOTLS
import SwiftASN1
import X509

/// The client's TLS settings, as the `--tls` flags give them. Verification is on unless ``insecure`` is set.
public struct ClientTLSSettings: Sendable, Hashable {
    /// PEM file of the CAs to trust; `nil`: the system trust store.
    public var caFile: String?
    /// The name to send (SNI) and to check the certificate against; `nil`: the host connected to.
    public var serverName: String?
    /// Accept exactly these keys (instead of a CA chain and name); see ``CertificatePin``.
    public var pins: [String]
    /// Client certificate (chain) and key, PEM, for mutual TLS.
    public var certificateFile: String?
    public var keyFile: String?
    /// Skip every check of the device's certificate. Encryption without authentication: a loud, explicit choice.
    public var insecure: Bool
    /// Limit for the handshake; `nil`: the connect timeout.
    public var handshakeTimeout: Duration?

    public init(
        caFile: String? = nil, serverName: String? = nil, pins: [String] = [], certificateFile: String? = nil,
        keyFile: String? = nil, insecure: Bool = false, handshakeTimeout: Duration? = nil
    ) {
        self.caFile = caFile
        self.serverName = serverName
        self.pins = pins
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.insecure = insecure
        self.handshakeTimeout = handshakeTimeout
    }
}

/// A client TLS setup made once from ``ClientTLSSettings`` (files read, context built) and shared by every
/// connection of a run.
///
/// Verification is done here rather than by BoringSSL, so that a failure says why: unknown CA, name mismatch,
/// expired, not yet valid, pin mismatch (``TLSFailure``).
public final class ClientTLS: Sendable {
    public let settings: ClientTLSSettings
    private let context: NIOSSLContext
    private let roots: CertificateStore
    private let pins: [CertificatePin]
    public var hasClientCertificate: Bool { settings.certificateFile != nil }

    public init(_ settings: ClientTLSSettings) throws {
        self.settings = settings
        if (settings.certificateFile == nil) != (settings.keyFile == nil) {
            throw TLSSetupError("--cert and --key go together (a client certificate needs its key)")
        }
        pins = try settings.pins.map(CertificatePin.init(parsing:))
        if let caFile = settings.caFile {
            roots = CertificateStore(try PEMFiles.certificates(at: caFile, what: "CA file"))
        } else {
            roots = CertificateStore.systemTrustRoots
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = ServerTLS.tls12CipherSuites
        // Our own callback replaces BoringSSL's checks; it runs only when verification is not `.none`.
        configuration.certificateVerification = .noHostnameVerification
        if let certificateFile = settings.certificateFile, let keyFile = settings.keyFile {
            let (chain, key) = try ServerTLS.loadIdentity(certificateFile: certificateFile, keyFile: keyFile)
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError(
                "cannot set up TLS with these certificate files (\(TLSFailure.reasonCode(in: "\(error)") ?? "unusable"))"
            )
        }
    }

    /// Adds the TLS handlers for a connection to `host` (the address or name connected to) to `pipeline`.
    public func addHandlers(
        to pipeline: ChannelPipeline.SynchronousOperations, host: String, handshakeTimeout: Duration
    ) throws {
        let expected = settings.serverName ?? host
        let isAddress = IPText.parse(expected) != nil
        let reason = NIOLockedValueBox<TLSFailure?>(nil)
        let verify = self.verify
        let handler = try NIOSSLClientHandler(
            context: context, serverHostname: isAddress ? nil : expected,
            customVerificationCallback: { certificates, promise in
                // The chain check is async (swift-certificates' verifier): the promise completes from its task.
                promise.completeWithTask {
                    let failure = await verify(certificates, expected, Date())
                    reason.withLockedValue { $0 = failure }
                    return failure == nil ? .certificateVerified : .failed
                }
            })
        try pipeline.addHandler(handler)
        try pipeline.addHandler(
            TLSClientGuard(
                reason: reason, timeout: settings.handshakeTimeout ?? handshakeTimeout,
                hasClientCertificate: hasClientCertificate))
    }

    /// Why `chain` (leaf first) is not acceptable for `expected`, or `nil` when it is.
    @Sendable
    func verify(_ chain: [NIOSSLCertificate], _ expected: String, _ now: Date) async -> TLSFailure? {
        if settings.insecure { return nil }
        guard let leafCertificate = chain.first else { return TLSFailure(.handshake, "the device sent no certificate") }
        let certificates: [Certificate]
        do {
            certificates = try chain.map { try Certificate(derEncoded: $0.toDERBytes()) }
        } catch {
            return TLSFailure(.handshake, "the device's certificate cannot be parsed (not valid DER)")
        }
        return await Self.check(
            certificates, leafPin: try? CertificatePin(of: leafCertificate), roots: roots, pins: pins,
            expected: expected, now: now)
    }

    /// The checks, in the order that gives the most useful message: dates, then pin or (chain, then name).
    static func check(
        _ chain: [Certificate], leafPin: CertificatePin?, roots: CertificateStore, pins: [CertificatePin],
        expected: String, now: Date
    ) async -> TLSFailure? {
        let leaf = chain[0]
        let validity = "valid \(Self.day(leaf.notValidBefore)) to \(Self.day(leaf.notValidAfter))"
        if leaf.notValidAfter < now {
            return TLSFailure(
                .expired,
                "certificate of \(Self.subject(leaf)) expired on \(Self.day(leaf.notValidAfter)) (\(validity))")
        }
        if leaf.notValidBefore > now {
            return TLSFailure(
                .notYetValid, "certificate of \(Self.subject(leaf)) is not valid yet (\(validity); check the clock)")
        }
        if let purpose = Self.purposeProblem(leaf, needs: .serverAuth, role: "servers") { return purpose }
        if !pins.isEmpty {
            guard let leafPin, pins.contains(leafPin) else {
                return TLSFailure(
                    .pinMismatch,
                    "the device's key \(leafPin.map { "\($0)" } ?? "(unreadable)") matches no --pin")
            }
            return nil  // a pinned key stands in for the CA chain and the name
        }
        var verifier = Verifier(rootCertificates: roots) { RFC5280Policy() }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst()))
        if case .couldNotValidate = result {
            // The verifier's own failure reasons describe whole certificates; the sentence names subject and issuer.
            return TLSFailure(
                .unknownCA,
                "unknown CA: the certificate of \(Self.subject(leaf)), issued by \(Self.issuer(leaf)), does not lead to a trusted CA; give the CA with --ca-file, or --pin the key"
            )
        }
        let identity = ClientIdentity(leaf)
        if !Self.names(identity, match: expected) {
            return TLSFailure(
                .nameMismatch,
                "name mismatch: the certificate is for \(identity); connected as \(expected) (use --servername to check another name)"
            )
        }
        return nil
    }

    /// Why `certificate` may not be used for `usage` (its extended key usage lists other purposes only), or nil.
    /// A certificate without the extension, or with anyExtendedKeyUsage, may be used for anything.
    static func purposeProblem(
        _ certificate: Certificate, needs usage: ExtendedKeyUsage.Usage, role: String
    ) -> TLSFailure? {
        let usages: ExtendedKeyUsage?
        do {
            usages = try certificate.extensions.extendedKeyUsage
        } catch {
            return TLSFailure(
                .wrongPurpose, "certificate of \(subject(certificate)) has an unreadable extended key usage")
        }
        guard let usages, !usages.contains(usage), !usages.contains(.any) else { return nil }
        return TLSFailure(
            .wrongPurpose,
            "certificate of \(subject(certificate)) is not for \(role) (extended key usage: \(usages.map { "\($0)" }.joined(separator: ", ")))"
        )
    }

    /// RFC 6125 matching: an address only against IP SANs, a name against DNS SANs (a leading `*.` matches one
    /// label). The subject's CN is not consulted when the certificate has SANs, as in every current client.
    static func names(_ identity: ClientIdentity, match expected: String) -> Bool {
        if let address = IPText.parse(expected) {
            return identity.ipAddresses.contains { IPText.parse($0) == address }
        }
        let host = expected.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        let names = identity.dnsNames.isEmpty && identity.ipAddresses.isEmpty ? identity.commonNames : identity.dnsNames
        return names.contains { name in
            let pattern = name.lowercased()
            if pattern == host { return true }
            guard pattern.hasPrefix("*."), let dot = host.firstIndex(of: ".") else { return false }
            return host[host.index(after: dot)...] == pattern.dropFirst(2) && dot != host.startIndex
        }
    }

    private static func day(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        return formatter.string(from: date)
    }

    static func subject(_ certificate: Certificate) -> String {
        let identity = ClientIdentity(certificate)
        return identity.commonNames.first.map { "CN=\($0)" } ?? "\(certificate.subject)"
    }

    static func issuer(_ certificate: Certificate) -> String {
        ClientIdentity.commonNames(of: certificate.issuer).first.map { "CN=\($0)" } ?? "\(certificate.issuer)"
    }
}

/// Sits behind the client's TLS handler: bounds the handshake, and turns TLS errors into ``TLSFailure``s that say
/// why. After the handshake, a close without TLS close_notify (most devices do that) is an ordinary end of stream.
final class TLSClientGuard: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let reason: NIOLockedValueBox<TLSFailure?>
    private let timeout: Duration
    private let hasClientCertificate: Bool
    private var timer: Scheduled<Void>?
    private var handshakeDone = false

    init(reason: NIOLockedValueBox<TLSFailure?>, timeout: Duration, hasClientCertificate: Bool) {
        self.reason = reason
        self.timeout = timeout
        self.hasClientCertificate = hasClientCertificate
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { armTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armTimer(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) { timer?.cancel() }

    private func armTimer(context: ChannelHandlerContext) {
        guard timer == nil, !handshakeDone else { return }
        let text = DurationText.format(timeout)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(timeout)) { [self] in
            guard !handshakeDone else { return }
            context.fireErrorCaught(TLSFailure(.handshakeTimeout, "no TLS handshake within \(text)"))
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event {
            handshakeDone = true
            timer?.cancel()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if handshakeDone, let error = error as? NIOSSLError, case .uncleanShutdown = error {
            return  // the device closed without close_notify: channelInactive tells the rest
        }
        context.fireErrorCaught(translate(error))
    }

    /// A TLS error as a ``TLSFailure``; other errors unchanged.
    func translate(_ error: any Error) -> any Error {
        if let failure = reason.withLockedValue({ $0 }) { return failure }
        switch error {
        case let error as NIOSSLError:
            if case .uncleanShutdown = error {
                return TLSFailure(.handshake, "the device closed the connection during the TLS handshake")
            }
            return TLSFailure.sentence(
                forLibraryError: "\(error)", hasClientCertificate: hasClientCertificate, isServer: false)
        case let error as BoringSSLError:
            return TLSFailure.sentence(
                forLibraryError: "\(error)", hasClientCertificate: hasClientCertificate, isServer: false)
        case let error as NIOSSLExtraError:
            return TLSFailure.sentence(
                forLibraryError: "\(error)", hasClientCertificate: hasClientCertificate, isServer: false)
        default:
            return error
        }
    }
}

/// What a device's certificate says, as `probe --tls` shows it.
public struct TLSPeerSummary: Sendable, Hashable {
    /// The names in the certificate (`CN=…, DNS:…, IP:…`).
    public var names: String
    public var issuer: String
    public var notValidAfter: Date
    /// The pin of the certificate's key, for `--pin`.
    public var pin: String

    public init(_ certificate: NIOSSLCertificate) throws {
        let parsed = try Certificate(derEncoded: certificate.toDERBytes())
        names = ClientIdentity(parsed).description
        issuer = ClientTLS.issuer(parsed)
        notValidAfter = parsed.notValidAfter
        pin = try CertificatePin(of: certificate).description
    }
}

extension ClientTLS {
    /// Adds the TLS handlers and one that reports the handshake: the future succeeds with the device's certificate
    /// once the handshake completed (and the certificate was accepted), and fails with a ``TLSFailure`` otherwise.
    public func addProbeHandlers(
        to pipeline: ChannelPipeline.SynchronousOperations, host: String, handshakeTimeout: Duration,
        on eventLoop: any EventLoop
    ) throws -> EventLoopFuture<TLSPeerSummary> {
        try addHandlers(to: pipeline, host: host, handshakeTimeout: handshakeTimeout)
        let promise = eventLoop.makePromise(of: TLSPeerSummary.self)
        try pipeline.addHandler(HandshakeObserver(promise: promise))
        return promise.futureResult
    }
}

/// Completes a promise when the TLS handshake completes or fails (for probes).
final class HandshakeObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var promise: EventLoopPromise<TLSPeerSummary>?

    init(promise: EventLoopPromise<TLSPeerSummary>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event, let promise {
            self.promise = nil
            do {
                let handler = try context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                guard let certificate = handler.peerCertificate else {
                    throw TLSFailure(.handshake, "the device sent no certificate")
                }
                promise.succeed(try TLSPeerSummary(certificate))
            } catch {
                promise.fail(error)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise?.fail(error)
        promise = nil
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.fail(TLSFailure(.handshake, "the device closed the connection during the TLS handshake"))
        promise = nil
        context.fireChannelInactive()
    }

    /// A connection that never became active (refused, timed out: the connect's own error is what the probe
    /// reports) still completes the promise: one left pending is a leak, and a debug build stops on it.
    func handlerRemoved(context: ChannelHandlerContext) {
        promise?.fail(TLSFailure(.handshake, "the connection closed before the TLS handshake"))
        promise = nil
    }
}
