import FleetFraming
import Foundation
import NIOSSL
import PostgresNIO

/// Where a run store is: a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE&sslrootcert=FILE]` URL
/// (libpq's form; `postgresql://` too). The password may instead come from `$PGPASSWORD`. ``description`` never
/// shows it.
public struct StoreLocation: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var database: String
    /// `disable`, `prefer` (the default, as libpq's), `require`, `verify-full`.
    public var sslMode: String
    /// `sslrootcert=FILE`: the PEM certificates that `verify-ca` and `verify-full` trust (default: the system's).
    public var rootCertificate: String?
    /// The URL itself carries the password (which the process list shows): worth a warning.
    public var passwordInURL: Bool
    var password: String?

    public init(parsing text: String, environment: [String: String] = [:]) throws(StoreError) {
        guard let schemeEnd = text.range(of: "://"),
            ["postgres", "postgresql"].contains(String(text[..<schemeEnd.lowerBound]).lowercased())
        else { throw StoreError("the store must be a postgres://USER@HOST[:PORT]/DATABASE URL") }
        var rest = Substring(text[schemeEnd.upperBound...])
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: mark)...])
            rest = rest[..<mark]
        }
        var userInfo: Substring = ""
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var database = ""
        if let slash = rest.firstIndex(of: "/") {
            database = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        var hostPart = String(rest)
        var port = 5432
        if let colon = hostPart.lastIndex(of: ":"), !hostPart.hasSuffix("]") {
            guard let number = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(number) else {
                throw StoreError("the store URL's port must be a number from 1 to 65535")
            }
            port = number
            hostPart = String(hostPart[..<colon])
        }
        if hostPart.hasPrefix("["), hostPart.hasSuffix("]") { hostPart = String(hostPart.dropFirst().dropLast()) }
        guard !hostPart.isEmpty else { throw StoreError("the store URL names no host") }
        var user = Substring(userInfo)
        var password: String?
        if let colon = userInfo.firstIndex(of: ":") {
            user = userInfo[..<colon]
            password = Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
        }
        let username = Self.percentDecoded(user)
        guard !username.isEmpty else { throw StoreError("the store URL names no user (postgres://USER@HOST/DATABASE)") }
        var sslMode = "prefer"
        var rootCertificate: String?
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw StoreError("the store URL's parameter '\(pair)' has no value") }
            if parts[0] == "sslmode" {
                guard ["disable", "prefer", "require", "verify-ca", "verify-full"].contains(parts[1]) else {
                    throw StoreError(
                        "sslmode must be disable, prefer, require, verify-ca or verify-full, not '\(parts[1])'")
                }
                sslMode = parts[1]
            } else if parts[0] == "sslrootcert" {
                rootCertificate = Self.percentDecoded(Substring(parts[1]))
            } else {
                throw StoreError(
                    "the store URL's parameter '\(parts[0])' is not one fleetcmd knows (sslmode, sslrootcert)")
            }
        }
        self.host = hostPart
        self.port = port
        self.username = username
        self.database = database.isEmpty ? username : Self.percentDecoded(Substring(database))
        self.sslMode = sslMode
        self.passwordInURL = password != nil
        self.password = password ?? environment["PGPASSWORD"]
        self.rootCertificate = rootCertificate
    }

    /// The URL without its password: safe for logs, messages and run records.
    public var description: String {
        "postgres://\(username)@\(HostPort.text(host, port))/\(database)"
    }

    /// The settings of a connection (fleetcmd keeps its own few: a wrong password or an unreachable store is told at
    /// once, where the driver's pool would keep retrying). TLS as libpq's modes of the same names: `prefer` and
    /// `require` encrypt without checking the certificate; `verify-ca` checks it against `sslrootcert` (or the
    /// system's roots), `verify-full` its name (or IP address) too.
    func connectionConfiguration() throws(StoreError) -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let rootCertificate { tlsConfiguration.trustRoots = .file(rootCertificate) }
        switch sslMode {
        case "disable": tls = .disable
        case "verify-full", "verify-ca":
            if sslMode == "verify-ca" { tlsConfiguration.certificateVerification = .noHostnameVerification }
            tls = .require(try Self.context(tlsConfiguration, rootCertificate: rootCertificate))
        default:
            tlsConfiguration.certificateVerification = .none
            let context = try Self.context(tlsConfiguration, rootCertificate: rootCertificate)
            tls = sslMode == "require" ? .require(context) : .prefer(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = TimeAmount(Self.connectTimeout)
        return configuration
    }

    /// How long connecting to the store may take.
    static let connectTimeout = Duration.seconds(5)

    private static func context(
        _ configuration: TLSConfiguration, rootCertificate: String?
    ) throws(StoreError)
        -> NIOSSLContext
    {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            if let rootCertificate {
                throw StoreError("sslrootcert \(rootCertificate): cannot read it as PEM certificates")
            }
            throw StoreError("cannot set up TLS for the store (the system's trusted certificates)")
        }
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var index = text.utf8.startIndex
        let utf8 = text.utf8
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: "%"), let high = utf8.index(index, offsetBy: 1, limitedBy: utf8.endIndex),
                high < utf8.endIndex, let low = utf8.index(high, offsetBy: 1, limitedBy: utf8.endIndex),
                low < utf8.endIndex,
                let value = UInt8(String(decoding: [utf8[high], utf8[low]], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                index = utf8.index(after: low)
            } else {
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A store problem said plainly (never the driver's error text, which can carry the query and its binds).
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
