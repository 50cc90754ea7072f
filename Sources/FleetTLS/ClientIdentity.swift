import Foundation
public import NIOSSL
import SwiftASN1
public import X509

/// Who a verified client certificate names: its subject's common name and its subject alternative names.
///
/// Authorization rules match it with ``matches(_:)``: `CN=ops-admin`, `DNS:ops.example.com`, `IP:10.0.0.5`,
/// `EMAIL:ops@example.com`, `URI:spiffe://fleet/ops`, or `*` for any verified client certificate.
public struct ClientIdentity: Sendable, Hashable, CustomStringConvertible {
    public var commonNames: [String]
    public var dnsNames: [String]
    public var ipAddresses: [String]
    public var emails: [String]
    public var uris: [String]

    public init(
        commonNames: [String] = [], dnsNames: [String] = [], ipAddresses: [String] = [], emails: [String] = [],
        uris: [String] = []
    ) {
        self.commonNames = commonNames
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.emails = emails
        self.uris = uris
    }

    /// The identity of a peer certificate (as NIOSSL hands it over after a handshake).
    public init(_ certificate: NIOSSLCertificate) throws {
        self.init(try Certificate(derEncoded: certificate.toDERBytes()))
    }

    public init(_ certificate: Certificate) {
        self.init(commonNames: Self.commonNames(of: certificate.subject))
        let names = (try? certificate.extensions.subjectAlternativeNames) ?? nil
        for name in names ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let dns): dnsNames.append(dns)
            case .ipAddress(let octets): ipAddresses.append(IPText.format(Array(octets.bytes)))
            case .rfc822Name(let email): emails.append(email)
            case .uniformResourceIdentifier(let uri): uris.append(uri)
            default: break
            }
        }
    }

    /// The common names (CN) of a distinguished name, in order.
    static func commonNames(of name: DistinguishedName) -> [String] {
        name.flatMap { rdn in
            rdn.filter { $0.type == .RDNAttributeType.commonName }.map { String($0.value) ?? $0.value.description }
        }
    }

    /// Whether this identity satisfies one rule (`CN=`, `DNS:`, `IP:`, `EMAIL:`, `URI:`, or `*`).
    public func matches(_ rule: String) -> Bool {
        if rule == "*" { return true }
        // A subject with several CNs never matches a CN= rule: which of them names the client is ambiguous.
        if let value = Self.value(of: rule, prefix: "CN=") { return commonNames.count == 1 && commonNames[0] == value }
        if let value = Self.value(of: rule, prefix: "DNS:") {
            return dnsNames.contains { $0.lowercased() == value.lowercased() }
        }
        if let value = Self.value(of: rule, prefix: "IP:") { return ipAddresses.contains(value) }
        if let value = Self.value(of: rule, prefix: "EMAIL:") {
            return emails.contains { $0.lowercased() == value.lowercased() }
        }
        if let value = Self.value(of: rule, prefix: "URI:") { return uris.contains(value) }
        return false
    }

    /// Checks that `rule` has a form ``matches(_:)`` understands.
    public static func validate(rule: String) throws {
        guard
            rule == "*"
                || ["CN=", "DNS:", "IP:", "EMAIL:", "URI:"].contains(where: { value(of: rule, prefix: $0) != nil })
        else {
            throw TLSSetupError(
                "identity rule '\(rule)' must be CN=NAME, DNS:NAME, IP:ADDRESS, EMAIL:ADDRESS, URI:URI or *")
        }
    }

    private static func value(of rule: String, prefix: String) -> String? {
        guard rule.count > prefix.count, rule.uppercased().hasPrefix(prefix) else { return nil }
        return String(rule.dropFirst(prefix.count))
    }

    public var description: String {
        let parts =
            commonNames.map { "CN=\($0)" } + dnsNames.map { "DNS:\($0)" } + ipAddresses.map { "IP:\($0)" }
            + emails.map { "EMAIL:\($0)" } + uris.map { "URI:\($0)" }
        return parts.isEmpty ? "(no names)" : parts.joined(separator: ", ")
    }
}

/// Text forms of IP addresses inside certificates.
public enum IPText {
    static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return bytes.map { String($0, radix: 16) }.joined(separator: ":") }
        var storage = in6_addr()
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &storage, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address bytes of an IPv4 or IPv6 literal; `nil` for anything else (a name).
    public static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        if inet_pton(AF_INET6, bare, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
