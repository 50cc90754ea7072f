import ArgumentParser
import FleetClient
import FleetTLS

/// `--tls`, `--ca-file`, `--servername`, `--pin`, `--cert`, `--key`, `--insecure`: TLS to the device, verified by
/// default. Any of these options turns TLS on.
struct TLSOptions: ParsableArguments {
    @Flag(help: "Talk TLS to the device, verifying its certificate (system trust store, or --ca-file).")
    var tls = false

    @Option(
        help: ArgumentHelp("PEM file of the CA(s) to trust instead of the system store.", valueName: "path"),
        completion: .file())
    var caFile: String?

    @Option(
        help: ArgumentHelp(
            "Name to send (SNI) and to check the certificate against. Default: the host connected to.",
            valueName: "name"))
    var servername: String?

    @Option(
        help: ArgumentHelp(
            "Accept the device whose key has this pin (sha256:BASE64 or hex, from `fleetcmd tls pin` or "
                + "`probe --tls`) instead of a CA chain and name; repeatable.",
            valueName: "sha256:..."))
    var pin: [String] = []

    @Option(help: ArgumentHelp("Client certificate (PEM) for mutual TLS.", valueName: "path"), completion: .file())
    var cert: String?

    @Option(help: ArgumentHelp("Private key (PEM) of --cert.", valueName: "path"), completion: .file())
    var key: String?

    @Flag(help: "Do not check the device's certificate at all (encrypted but unauthenticated; warned about).")
    var insecure = false

    var isEnabled: Bool { Self.isEnabled(flag: tls, settings) }

    /// Whether TLS is on: `--tls`, or any option that only makes sense with TLS.
    static func isEnabled(flag: Bool, _ settings: ClientTLSSettings) -> Bool {
        flag || settings.caFile != nil || settings.serverName != nil || !settings.pins.isEmpty
            || settings.certificateFile != nil || settings.insecure
    }

    func validate() throws { try Self.validate(settings) }

    static func validate(_ settings: ClientTLSSettings) throws {
        if (settings.certificateFile == nil) != (settings.keyFile == nil) {
            throw ValidationError("--cert and --key go together")
        }
        if settings.insecure, !settings.pins.isEmpty || settings.caFile != nil {
            throw ValidationError("--insecure turns checks off; it cannot be combined with --pin or --ca-file")
        }
        for value in settings.pins {
            do { _ = try CertificatePin(parsing: value) } catch { throw ValidationError("\(error)") }
        }
    }

    var settings: ClientTLSSettings {
        ClientTLSSettings(
            caFile: caFile, serverName: servername, pins: pin, certificateFile: cert, keyFile: key, insecure: insecure)
    }

    /// The TLS setup, or `nil` when TLS is off. Warns on stderr for `--insecure`; exits 78 when a file is unusable.
    func clientTLS() throws -> ClientTLS? { try Self.clientTLS(flag: tls, settings) }

    static func clientTLS(flag: Bool, _ settings: ClientTLSSettings) throws -> ClientTLS? {
        guard isEnabled(flag: flag, settings) else { return nil }
        return try make(settings)
    }

    static func make(_ settings: ClientTLSSettings) throws -> ClientTLS {
        if settings.insecure {
            Console.error(
                "warning: --insecure: the device's certificate is not checked; anyone on the path can impersonate "
                    + "the device and read or change this conversation")
        }
        do {
            return try ClientTLS(settings)
        } catch {
            Console.error("\(error)")
            throw ExitCode(ExitStatus.configInvalid)
        }
    }
}
