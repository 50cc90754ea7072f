import ArgumentParser
import Foundation

/// The device password (PJLink logins), from the safest source given: `--password-file`, `$FLEETCMD_PASSWORD`, or
/// `--password` (which warns: other users see command lines in the process list). It is never written to a
/// journal, a run listing, a log line or an error message.
struct PasswordOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Password for devices that ask for a login (PJLink). Visible to other users in the process list: prefer "
                + "--password-file or $FLEETCMD_PASSWORD.", valueName: "text"))
    var password: String?

    @Option(
        help: ArgumentHelp("Read the device password from this file (its first line).", valueName: "path"),
        completion: .file())
    var passwordFile: String?

    func validate() throws { try Self.validate(password: password, passwordFile: passwordFile) }

    static func validate(password: String?, passwordFile: String?) throws {
        if password != nil, passwordFile != nil {
            throw ValidationError("give --password or --password-file, not both")
        }
    }

    /// The password, or nil when none was given; warns once about a password given as a flag.
    func resolve() throws -> String? { try Self.resolve(password: password, passwordFile: passwordFile) }

    static func resolve(password: String?, passwordFile: String?) throws -> String? {
        if let passwordFile {
            guard let data = FileManager.default.contents(atPath: passwordFile) else {
                Console.error("cannot read the password file \(passwordFile)")
                throw ExitCode(ExitStatus.usage)
            }
            let text = String(decoding: data, as: UTF8.self)
            return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
                .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        }
        if let password {
            Console.error(
                "warning: --password can be read by other users of this machine (process list); use --password-file "
                    + "or $FLEETCMD_PASSWORD")
            return password
        }
        return ProcessEnvironment.variables["FLEETCMD_PASSWORD"]
    }

    /// A password typed at `run --resume`'s prompt, for this process only (set once, before the run starts).
    nonisolated(unsafe) static var typed: String?

    /// Asks on the terminal, without echo, when standard input is one; nil otherwise.
    static func prompt(_ question: String) -> String? {
        guard isatty(STDIN_FILENO) == 1, let answer = getpass(question) else { return nil }
        return String(cString: answer)
    }

    /// `arguments` (a `run` command line) without any password given in it, for the journal.
    static func redacting(_ arguments: [String]) -> (arguments: [String], redacted: Bool) {
        var kept: [String] = []
        var redacted = false
        var skipNext = false
        for argument in arguments {
            if skipNext {
                skipNext = false
                continue
            }
            if argument == "--password" {
                skipNext = true
                redacted = true
            } else if argument.hasPrefix("--password=") {
                redacted = true
            } else {
                kept.append(argument)
            }
        }
        return (kept, redacted)
    }
}
