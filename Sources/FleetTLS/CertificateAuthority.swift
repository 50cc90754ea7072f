import Crypto
public import Foundation
import SwiftASN1
public import X509

/// A small private CA for a fleet (`fleetcmd tls init`): P-256 keys, ECDSA-SHA256 signatures, no openssl needed.
///
/// ```swift
/// let ca = try CertificateAuthority.create(commonName: "fleetcmd CA")
/// let agent = try ca.issue(commonName: "printer-7", dnsNames: ["printer-7.example"], ipAddresses: ["10.0.0.7"],
///                          usage: .server)
/// try agent.certificatePEM.write(...)
/// ```
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    private let key: Certificate.PrivateKey

    /// What an issued certificate may be used for (its extended key usage).
    public enum Usage: Sendable {
        case server, client, both
    }

    /// A certificate and its private key, PEM encoded.
    public struct Issued: Sendable {
        public var certificate: Certificate
        public var certificatePEM: String
        public var keyPEM: String
    }

    /// A new CA, valid from an hour ago (clock skew) for `days` days.
    public static func create(commonName: String, days: Int = 3650, now: Date = Date()) throws -> CertificateAuthority {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let name = try DistinguishedName {
            OrganizationName("fleetcmd")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(Double(days) * 86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: key.publicKey)
            },
            issuerPrivateKey: key)
        return CertificateAuthority(certificate: certificate, key: key)
    }

    /// The CA stored as PEM (its certificate and key).
    public init(certificatePEM: String, keyPEM: String) throws {
        certificate = try Certificate(pemEncoded: certificatePEM)
        key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        guard key.publicKey == certificate.publicKey else {
            throw TLSSetupError("the CA key does not belong to the CA certificate")
        }
    }

    private init(certificate: Certificate, key: Certificate.PrivateKey) {
        self.certificate = certificate
        self.key = key
    }

    public var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString } }
    public var keyPEM: String { get throws { try key.serializeAsPEM().pemString } }

    /// Issues a certificate for `commonName` with these SANs. Validity: from `notBefore` (default: an hour ago)
    /// for `days` days, or until `notAfter` when given.
    public func issue(
        commonName: String, dnsNames: [String] = [], ipAddresses: [String] = [], usage: Usage, days: Int = 825,
        notBefore: Date? = nil, notAfter: Date? = nil, now: Date = Date()
    ) throws -> Issued {
        let leafKey = Certificate.PrivateKey(P256.Signing.PrivateKey())
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let bytes = IPText.parse(address) else {
                throw TLSSetupError("'\(address)' is not an IP address")
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let start = notBefore ?? now.addingTimeInterval(-3600)
        let end = notAfter ?? start.addingTimeInterval(Double(days) * 86400)
        let usages: [ExtendedKeyUsage.Usage]
        switch usage {
        case .server: usages = [.serverAuth]
        case .client: usages = [.clientAuth]
        case .both: usages = [.serverAuth, .clientAuth]
        }
        let subject = try DistinguishedName {
            OrganizationName("fleetcmd")
            CommonName(commonName)
        }
        let sans = SubjectAlternativeNames(names)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: leafKey.publicKey,
            notValidBefore: start, notValidAfter: end, issuer: self.certificate.subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage(usages)
                if !names.isEmpty { sans }
                SubjectKeyIdentifier(hash: leafKey.publicKey)
                AuthorityKeyIdentifier(
                    keyIdentifier: SubjectKeyIdentifier(hash: self.certificate.publicKey).keyIdentifier)
            },
            issuerPrivateKey: key)
        return Issued(
            certificate: certificate, certificatePEM: try certificate.serializeAsPEM().pemString,
            keyPEM: try leafKey.serializeAsPEM().pemString)
    }
}
