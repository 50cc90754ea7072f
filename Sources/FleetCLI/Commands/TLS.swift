import ArgumentParser
import FleetInventory
import FleetTLS
import Foundation
import NIOSSL

/// `fleetcmd tls`: certificates for a fleet, without openssl.
struct TLS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "Make a private CA and certificates for agents and clients; print key pins.",
        subcommands: [Init.self, Pin.self]
    )

    /// `fleetcmd tls init`: a CA (made once, then reused) and certificates issued by it.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a private CA (or reuse the one in --dir) and issue agent and client certificates.",
            discussion: """
                Writes DIR/ca.pem and DIR/ca.key (made once; later runs reuse them to issue more certificates), \
                DIR/agents/NAME.pem + .key for each --agent and each inventory host (SANs: the name and its \
                ansible_host, as DNS names or IP addresses, plus every --san), and DIR/clients/NAME.pem + .key for \
                each --client (default: one client named 'operator'). Keys are P-256, written with mode 0600. \
                Existing files are kept unless --force. See docs/tls.md for the five-minute path to mutual TLS.
                """
        )

        @Option(help: ArgumentHelp("Folder for the CA and certificates.", valueName: "path"), completion: .directory)
        var dir = "fleet-tls"

        @Option(help: ArgumentHelp("Common name of a new CA.", valueName: "name"))
        var caName = "fleetcmd fleet CA"

        @Option(
            name: .customLong("agent"),
            help: ArgumentHelp(
                "Issue an agent (server) certificate for this name or address (repeatable).", valueName: "name"))
        var agents: [String] = []

        @Option(
            name: [.short, .customLong("inventory")],
            help: ArgumentHelp("Issue an agent certificate for every host of this inventory.", valueName: "path"),
            completion: .file())
        var inventory: String?

        @Option(help: ArgumentHelp("Ansible host pattern to pick inventory hosts.", valueName: "pattern"))
        var limit: String?

        @Option(
            name: .customLong("san"),
            help: ArgumentHelp(
                "Extra DNS name or IP address for every agent certificate (repeatable).", valueName: "name"))
        var sans: [String] = []

        @Option(
            name: .customLong("client"),
            help: ArgumentHelp("Issue a client certificate with this common name (repeatable).", valueName: "name"))
        var clients: [String] = []

        @Option(help: "Validity of issued certificates, in days.")
        var days = 825

        @Option(help: "Validity of a new CA, in days.")
        var caDays = 3650

        @Flag(help: "Replace certificates and keys that already exist (never the CA).")
        var force = false

        func validate() throws {
            guard days > 0, caDays > 0 else { throw ValidationError("--days and --ca-days must be positive") }
            for name in agents + clients + sans where name.isEmpty || name.contains("/") {
                throw ValidationError("'\(name)' cannot name a certificate (empty, or contains /)")
            }
        }

        func run() throws {
            do {
                try issueAll()
            } catch let error as TLSSetupError {
                Console.error("tls init: \(error)")
                throw ExitCode(ExitStatus.configInvalid)
            }
        }

        private func issueAll() throws {
            for folder in [dir, dir + "/agents", dir + "/clients"] {
                do {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                } catch {
                    throw TLSSetupError("cannot create \(folder): \(ErrorText.describe(error))")
                }
            }
            let caCert = dir + "/ca.pem"
            let caKey = dir + "/ca.key"
            let authority: CertificateAuthority
            if FileManager.default.fileExists(atPath: caCert) || FileManager.default.fileExists(atPath: caKey) {
                do {
                    authority = try CertificateAuthority(
                        certificatePEM: try PEMFiles.read(caCert, what: "CA certificate"),
                        keyPEM: try PEMFiles.read(caKey, what: "CA key"))
                } catch let error as TLSSetupError {
                    throw error
                } catch {
                    throw TLSSetupError("the CA in \(dir) cannot be used: \(error)")
                }
                Console.out("using the CA in \(caCert)")
            } else {
                authority = try attempt { try CertificateAuthority.create(commonName: caName, days: caDays) }
                try PEMFiles.write(try attempt { try authority.keyPEM }, to: caKey, isSecret: true, overwrite: false)
                try PEMFiles.write(
                    try attempt { try authority.certificatePEM }, to: caCert, isSecret: false, overwrite: false)
                Console.out("created CA \(caCert) (key \(caKey), mode 0600; keep it offline)")
            }
            var agentNames: [(name: String, sans: [String])] = agents.map { ($0, [$0]) }
            if let inventory {
                let parsed = try InventorySelection.load([inventory])
                let hosts = try InventorySelection.select(parsed, limit: limit)
                for host in hosts {
                    let address = host.endpoint(defaultPort: 9100).host
                    agentNames.append((host.name, address == host.name ? [host.name] : [host.name, address]))
                }
            }
            for (name, names) in agentNames {
                let all = names + sans
                let addresses = all.filter { Self.isAddress($0) }
                let dnsNames = all.filter { !Self.isAddress($0) }
                let issued = try attempt {
                    try authority.issue(
                        commonName: name, dnsNames: Self.unique(dnsNames), ipAddresses: Self.unique(addresses),
                        usage: .server, days: days)
                }
                try write(
                    issued, base: "\(dir)/agents/\(name)",
                    what: "agent \(name) (\(Self.unique(all).joined(separator: ", ")))")
            }
            for name in clients.isEmpty ? ["operator"] : clients {
                let issued = try attempt { try authority.issue(commonName: name, usage: .client, days: days) }
                try write(issued, base: "\(dir)/clients/\(name)", what: "client CN=\(name)")
            }
        }

        private func write(_ issued: CertificateAuthority.Issued, base: String, what: String) throws {
            let certificate = base + ".pem"
            if !force, FileManager.default.fileExists(atPath: certificate) {
                Console.out("kept \(certificate) (exists; --force replaces it)")
                return
            }
            try PEMFiles.write(issued.keyPEM, to: base + ".key", isSecret: true, overwrite: force)
            try PEMFiles.write(issued.certificatePEM, to: certificate, isSecret: false, overwrite: force)
            Console.out("issued \(certificate) + .key for \(what)")
        }

        private func attempt<T>(_ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch let error as TLSSetupError {
                throw error
            } catch {
                throw TLSSetupError("\(error)")
            }
        }

        static func isAddress(_ text: String) -> Bool {
            IPText.parse(text) != nil
        }

        static func unique(_ items: [String]) -> [String] {
            var seen = Set<String>()
            return items.filter { seen.insert($0.lowercased()).inserted }
        }
    }

    /// `fleetcmd tls pin CERT`: the value for `--pin`.
    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pin",
            abstract: "Print the key pin (sha256:BASE64) of a certificate file, for --pin.")

        @Argument(help: ArgumentHelp("PEM certificate file(s).", valueName: "path"), completion: .file())
        var files: [String]

        func run() throws {
            for file in files {
                do {
                    _ = try PEMFiles.certificates(at: file)
                    let certificate = try NIOSSLCertificate.fromPEMFile(file)[0]
                    let names = (try? ClientIdentity(certificate).description) ?? "?"
                    Console.out("\(try CertificatePin(of: certificate))  \(file)  \(names)")
                } catch {
                    Console.error("tls pin: \(error)")
                    throw ExitCode(ExitStatus.configInvalid)
                }
            }
        }
    }
}
