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
