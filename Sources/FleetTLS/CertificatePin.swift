import Crypto
import Foundation
public import NIOSSL

/// A pinned public key: the SHA-256 digest of a certificate's SubjectPublicKeyInfo (as curl's `--pinnedpubkey`
/// and HPKP), written `sha256:` and then base64 (as `fleetcmd tls pin` prints it) or hex (colons allowed).
///
/// A pin names the key, not the certificate, so it survives a renewal that keeps the key.
public struct CertificatePin: Sendable, Hashable, CustomStringConvertible {
    public let digest: [UInt8]

    public init(digest: [UInt8]) { self.digest = digest }

    /// Parses `sha256:BASE64` or `sha256:HEX`.
    public init(parsing text: String) throws {
        let prefix = "sha256:"
        guard text.lowercased().hasPrefix(prefix) else {
            throw TLSSetupError("pin '\(text)' must start with sha256: (see `fleetcmd tls pin CERT`)")
        }
        let body = String(text.dropFirst(prefix.count))
        let hex = body.replacingOccurrences(of: ":", with: "")
        if hex.count == 64, let bytes = Self.hexBytes(hex) {
            digest = bytes
        } else if let data = Data(base64Encoded: body), data.count == 32 {
            digest = Array(data)
        } else {
            throw TLSSetupError("pin '\(text)' is not a SHA-256 digest in base64 or hex")
        }
    }

    /// The pin of `certificate`'s public key.
    public init(of certificate: NIOSSLCertificate) throws {
        let spki = try certificate.extractPublicKey().toSPKIBytes()
        digest = Array(SHA256.hash(data: spki))
    }

    public var description: String { "sha256:" + Data(digest).base64EncodedString() }

    private static func hexBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var iterator = text.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            guard let value = UInt8(String([high, low]), radix: 16) else { return nil }
            bytes.append(value)
        }
        return bytes
    }
}
