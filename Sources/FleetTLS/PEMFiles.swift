import Foundation
import SwiftASN1
public import X509

/// Reads certificates and keys from PEM files with errors that name the file.
public enum PEMFiles {
    /// The text of `path`, or an error naming it.
    public static func read(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file"
            throw TLSSetupError("cannot read \(what) \(path): \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TLSSetupError("\(what) \(path) is not a PEM text file")
        }
        return text
    }

    /// Every certificate in the PEM file at `path` (a chain or a CA bundle), in file order.
    public static func certificates(at path: String, what: String = "certificate file") throws -> [Certificate] {
        let text = try read(path, what: what)
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw TLSSetupError("\(what) \(path) is not valid PEM (expected -----BEGIN …----- blocks)")
        }
        let certificates = try documents.filter { $0.discriminator == "CERTIFICATE" }.map { document in
            do {
                return try Certificate(pemDocument: document)
            } catch {
                throw TLSSetupError("\(what) \(path) holds a certificate that cannot be parsed (not valid X.509 DER)")
            }
        }
        guard !certificates.isEmpty else { throw TLSSetupError("\(what) \(path) holds no certificate") }
        return certificates
    }

    /// Writes `text` to `path`; keys get mode 0600 (`isSecret`), certificates 0644. Refuses to overwrite unless
    /// `overwrite` is set.
    public static func write(_ text: String, to path: String, isSecret: Bool, overwrite: Bool) throws {
        if !overwrite, FileManager.default.fileExists(atPath: path) {
            throw TLSSetupError("\(path) already exists (use --force to replace it)")
        }
        let mode: Int = isSecret ? 0o600 : 0o644
        try? FileManager.default.removeItem(atPath: path)
        guard
            FileManager.default.createFile(
                atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: mode])
        else { throw TLSSetupError("cannot write \(path)") }
    }
}

/// A TLS setting that cannot be used (a missing file, a key that does not parse), with the cause in one line.
public struct TLSSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
