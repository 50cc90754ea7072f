import NIOSSL

/// Why a TLS connection failed, in words an operator can act on.
///
/// The ``kind`` is stable (for tests and JSON); ``description`` names the cause and, where there is one, the fix:
/// `certificate expired on 2026-01-01 (valid 2025-01-01 to 2026-01-01)`,
/// `name mismatch: the certificate is for DNS:printer-7.example; connected as printer-8.example`.
public struct TLSFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// The certificate chain does not lead to a trusted CA.
        case unknownCA = "unknown-ca"
        /// The certificate is valid, but not for the name (or address) we connected to.
        case nameMismatch = "name-mismatch"
        /// The certificate's validity ended.
        case expired
        /// The certificate's validity has not begun.
        case notYetValid = "not-yet-valid"
        /// The certificate's key is not one of the pinned keys.
        case pinMismatch = "pin-mismatch"
        /// No handshake completed in time.
        case handshakeTimeout = "handshake-timeout"
        /// The device wants a client certificate and we offered none.
        case clientCertificateRequired = "client-certificate-required"
        /// The device rejected the client certificate we offered.
        case clientCertificateRejected = "client-certificate-rejected"
        /// The peer does not speak TLS on this port.
        case notTLS = "not-tls"
        /// A plaintext connection reached a port that speaks TLS.
        case speaksTLS = "speaks-tls"
        /// The certificate is not for this use: its extended key usage leaves out server (or client) authentication.
        case wrongPurpose = "wrong-purpose"
        /// The peer offers only TLS versions or cipher suites that fleetcmd does not accept.
        case protocolMismatch = "protocol-mismatch"
        /// Any other handshake failure.
        case handshake
    }

    public var kind: Kind
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { "TLS: \(detail)" }
}

extension TLSFailure {
    /// A TLS library error (NIOSSL, BoringSSL) as a sentence; nil for other errors.
    public static func fromLibraryError(_ error: any Error, isServer: Bool = false) -> TLSFailure? {
        if let failure = error as? TLSFailure { return failure }
        switch error {
        case let error as NIOSSLError:
            if case .uncleanShutdown = error {
                return TLSFailure(.handshake, "the connection was closed without a TLS close_notify")
            }
            return sentence(forLibraryError: "\(error)", hasClientCertificate: true, isServer: isServer)
        case is BoringSSLError, is NIOSSLExtraError:
            return sentence(forLibraryError: "\(error)", hasClientCertificate: true, isServer: isServer)
        default:
            return nil
        }
    }

    /// The reason code inside a BoringSSL or NIOSSL error's text (`WRONG_VERSION_NUMBER`), without the rest of it:
    /// those texts hold library enum names and the build folder of the library (`… at /…/.build/…:231`), which must
    /// never reach a user.
    static func reasonCode(in text: String) -> String? {
        var best: String?
        var current = ""
        for character in text + " " {
            if character.isUppercase || character.isNumber || character == "_" {
                current.append(character)
            } else {
                if current.count >= 6, current.contains("_"), current.first?.isLetter == true { best = current }
                current = ""
            }
        }
        return best
    }

    /// A sentence for a TLS error of the libraries, from its reason code alone.
    static func sentence(forLibraryError text: String, hasClientCertificate: Bool, isServer: Bool) -> TLSFailure {
        let code = reasonCode(in: text) ?? ""
        let peer = isServer ? "the client" : "the device"
        switch code {
        case let code where code.contains("CERTIFICATE_REQUIRED"):
            return TLSFailure(
                .clientCertificateRequired, "\(peer) requires a client certificate (give --cert and --key)")
        case let code where code.contains("UNSUPPORTED_PROTOCOL") || code.contains("PROTOCOL_VERSION"):
            return TLSFailure(
                .protocolMismatch, "\(peer) offers only TLS versions fleetcmd does not accept (TLS 1.2 or newer needed)"
            )
        case let code
        where code.contains("NO_SHARED_CIPHER") || code.contains("NO_CIPHERS_AVAILABLE")
            || code.contains("NO_CIPHER_MATCH"):
            return TLSFailure(
                .protocolMismatch,
                "\(peer) and fleetcmd share no cipher suite (fleetcmd accepts only forward-secret AEAD suites)")
        case let code
        where code.contains("WRONG_VERSION_NUMBER") || code.contains("PACKET_LENGTH_TOO_LONG")
            || code.contains("HTTP_REQUEST") || code.contains("RECORD_LENGTH_MISMATCH"):
            return TLSFailure(.notTLS, "\(peer) did not answer with TLS (is this a plaintext port?)")
        case let code where code.contains("UNSUPPORTED_CERTIFICATE") || code.contains("INVALID_PURPOSE"):
            return TLSFailure(.wrongPurpose, "\(peer)'s certificate is not for this use (extended key usage)")
        case let code where code.contains("ALERT_HANDSHAKE_FAILURE") && !hasClientCertificate && !isServer:
            return TLSFailure(
                .clientCertificateRequired, "the device requires a client certificate (give --cert and --key)")
        case let code where code.contains("ALERT_CERTIFICATE_EXPIRED"):
            return TLSFailure(.clientCertificateRejected, "\(peer) rejected our client certificate: expired")
        case let code
        where code.contains("ALERT_UNKNOWN_CA") || code.contains("ALERT_BAD_CERTIFICATE")
            || code.contains("ALERT_CERTIFICATE_UNKNOWN") || code.contains("ALERT_DECRYPT_ERROR")
            || code.contains("ALERT_UNSUPPORTED_CERTIFICATE"):
            return TLSFailure(
                .clientCertificateRejected,
                "\(peer) rejected our certificate (not issued by a CA it trusts, not valid, or not for this use)")
        case let code where code.contains("CERTIFICATE_VERIFY_FAILED"):
            return TLSFailure(
                .clientCertificateRejected,
                "\(peer)'s certificate was not accepted (not issued by a trusted CA, expired, or not for this use)")
        case "":
            return TLSFailure(
                .handshake,
                "the TLS handshake failed: \(peer) closed the connection or answered with something that is not TLS")
        default:
            let words = code.lowercased().split(separator: "_").joined(separator: " ")
            return TLSFailure(.handshake, "the TLS handshake failed (\(words))")
        }
    }
}
