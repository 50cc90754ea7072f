import Foundation
import NIOSSL
public import PostgresNIO

/// Where a run store is: a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]` URL (libpq's form;
/// `postgresql://` too). The password may instead come from `$PGPASSWORD`. ``description`` never shows it.
public struct StoreLocation: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var database: String
    /// `disable`, `prefer` (the default, as libpq's), `require`, `verify-full`.
    public var sslMode: String
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
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            if parts[0] == "sslmode" {
                guard ["disable", "prefer", "require", "verify-full"].contains(parts[1]) else {
                    throw StoreError("sslmode must be disable, prefer, require or verify-full, not '\(parts[1])'")
                }
                sslMode = parts[1]
            }
        }
        self.host = hostPart
        self.port = port
        self.username = username
        self.database = database.isEmpty ? username : Self.percentDecoded(Substring(database))
        self.sslMode = sslMode
        self.password = password ?? environment["PGPASSWORD"]
    }

    /// The URL without its password: safe for logs, messages and run records.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(username)@\(shownHost):\(port)/\(database)"
    }

    func clientConfiguration() throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "verify-full": tls = .require(.makeClientConfiguration())
        default:
            // prefer and require encrypt without checking the certificate, as libpq's modes of those names do
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            tls = sslMode == "require" ? .require(configuration) : .prefer(configuration)
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The same settings for one connection of our own (the first, which tells a wrong password or an unreachable
    /// store at once; the driver's pool would keep retrying it).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "verify-full": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            let context = try NIOSSLContext(configuration: configuration)
            tls = sslMode == "require" ? .require(context) : .prefer(context)
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
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
