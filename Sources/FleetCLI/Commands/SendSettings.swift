import ArgumentParser
import FleetClient
import FleetFraming
import FleetRunner
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What `fleetcmd send` was asked to do, as plain values, and the doing of it: ``Send`` decodes its options into
/// one, and a command line with no option at all (`send HOST COMMAND...`, the article's script) becomes one
/// without ArgumentParser (``init(plainCommandLine:)``).
///
/// Why the second way exists: ArgumentParser learns a command's options by reflecting over its properties, and on
/// Linux each type it asks about is a scan of every protocol conformance in the binary (about 9,400). For `send`
/// that was half of the process's CPU time. The plain path gets the same values (every default is declared once,
/// by the option that has it; a test compares the two for the same command line) and the same checks; anything
/// it does not recognise, or that fails a check, goes to ArgumentParser, which then reports it in its words.
struct SendSettings: Equatable {
    /// `--error-pattern` when not given.
    static let defaultErrorPattern = "^ERR"

    var device: String
    var commands: [String]
    var hex = false
    var files: [String] = []
    var output = OutputFormat.text
    var errorPattern = defaultErrorPattern
    var rawReply = false
    var verbose = false
    var client = ClientSettings()

    init(device: String, commands: [String]) {
        self.device = device
        self.commands = commands
    }

    /// `send DEVICE COMMAND...` with no option (no argument starting with `-`, none that is `help`), when it passes
    /// ``validate()``; `nil` for anything else, which ArgumentParser then parses (and reports, if it is wrong).
    init?(plainCommandLine arguments: [String]) {
        guard arguments.count >= 3, arguments[0] == "send" else { return nil }
        for argument in arguments.dropFirst() {
            guard argument != "help", argument.utf8.first != UInt8(ascii: "-") else { return nil }
        }
        self.init(device: arguments[1], commands: Array(arguments[2...]))
        guard (try? validate()) != nil else { return nil }
    }

    /// The checks ArgumentParser runs when it decodes `send`: the client options' (``ClientSettings/validate()``),
    /// then the command's own (``validateCommand()``).
    func validate() throws {
        try client.validate()
        try validateCommand()
    }

    /// `send`'s own checks (`Send.validate()`; ArgumentParser has checked the option groups by then).
    func validateCommand() throws {
        guard !commands.isEmpty || !files.isEmpty else {
            throw ValidationError("give at least one COMMAND (or --file)")
        }
        do {
            _ = try DeviceAddress(parsing: device)
        } catch {
            throw ValidationError("\(error)")
        }
        _ = try payloads(readingFiles: false)
        // The default compiles (a constant; `run()` compiles it once): only a pattern of the user's is checked here.
        if errorPattern != Self.defaultErrorPattern { _ = try compiledErrorPattern() }
    }

    func run() async throws { try await run(prepared()) }

    /// `send` as prepared: on the lean path when it takes the address, else through `DeviceClient`.
    func run(_ job: Job) async throws {
        if try runOnThisThread(job) { return }
        try await runWithClient(job)
    }

    /// `send` through `DeviceClient`: what the lean path does not take (a name to resolve, TLS, a session, replies
    /// that end at close or silence).
    func runWithClient(_ job: Job) async throws {
        try report(
            await DeviceClient(configuration: job.configuration).exchange(job.commands, with: job.address), job: job)
    }

    /// The whole of `send` on the calling thread, with no Swift concurrency, when the lean path takes it (a literal
    /// address in plaintext, on Linux); `false`, having sent nothing, when the job needs ``run(_:)``.
    func runOnThisThread(_ job: Job) throws -> Bool {
        guard let exchange = LeanOneShot.exchange(job.commands, with: job.address, configuration: job.configuration)
        else { return false }
        try report(exchange, job: job)
        return true
    }

    /// What one `send` works from: the preset, where, what (with the text shown for each) and how; files are read.
    struct Job {
        var preset: DevicePreset
        var address: DeviceAddress
        var payloads: [(bytes: [UInt8], shown: String)]
        var configuration: DeviceClient.Configuration
        var commands: [[UInt8]] { payloads.map(\.bytes) }
    }

    func prepared() throws -> Job {
        let preset = try client.devicePreset()
        let address = try DeviceAddress(parsing: device, defaultPort: preset.defaultPort)
        let payloads = try payloads(readingFiles: true)
        return Job(
            preset: preset, address: address, payloads: payloads, configuration: try client.configuration(for: preset))
    }

    /// Prints the replies and failures of `exchange`, and throws the exit status they call for.
    private func report(_ exchange: Exchange, job: Job) throws {
        SessionDisplayOptions.showGreeting(exchange.greeting, device: exchange.device, verbose: verbose)
        if rawReply, output == .text, Console.stdoutIsTerminal {
            Console.error(
                "note: stdout is a terminal, so --raw-reply escapes control bytes; redirect for the exact bytes")
        }
        var printer = ReplyPrinter(output: output, rawReply: rawReply)
        printer.decoder = job.preset.decoder
        printer.errorPattern = try compiledErrorPattern()
        printer.deviceName = device
        var errorReplies: [String] = []
        for (index, payload) in job.payloads.enumerated() {
            if index < exchange.replies.count {
                let reply = exchange.replies[index]
                if printer.isErrorReply(reply) { errorReplies.append(payload.shown) }
                printer.printReply(
                    reply, command: payload.shown, request: payload.bytes, index: index, device: exchange.device)
            } else if let error = exchange.error {
                printer.printFailure(error, command: payload.shown, index: index, device: exchange.device)
            }
        }
        printer.finish()
        if exchange.leftoverBytes > 0 {
            Console.error(
                "warning: device \(exchange.device) sent \(exchange.leftoverBytes) bytes after the last reply (ignored)"
            )
        }
        if let error = exchange.error {
            Console.error(error.description)
            throw ExitStatus.exit(for: error.code)
        }
        if !errorReplies.isEmpty {
            let commands = errorReplies.map { "'\($0)'" }.joined(separator: ", ")
            Console.error("device \(exchange.device) answered \(commands) with an error reply (--error-pattern)")
            throw ExitCode(ExitStatus.runErrorReply)
        }
    }

    /// Why `path` cannot be read as a command's bytes (the system's reason, or `is a directory`); `nil` if it can.
    private static func unreadable(_ path: String) -> String? {
        // Nothing opened: a named pipe would block the open until a writer came.
        guard access(path, R_OK) == 0 else { return UserFacingText.systemReason(errno) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            return UserFacingText.systemReason(EISDIR)
        }
        return nil
    }

    private func compiledErrorPattern() throws -> ErrorPattern {
        do {
            return try ErrorPattern(errorPattern)
        } catch {
            throw ValidationError("--error-pattern is not a valid regular expression: \(errorPattern)")
        }
    }

    /// The commands as bytes, each with the text to show for it.
    private func payloads(readingFiles: Bool) throws -> [(bytes: [UInt8], shown: String)] {
        var result: [(bytes: [UInt8], shown: String)] = []
        for command in commands {
            do {
                result.append((hex ? try ByteEscapes.parseHex(command) : try ByteEscapes.parse(command), command))
            } catch {
                throw ValidationError("\(error)")
            }
        }
        for path in files {
            guard readingFiles else {
                // Checked with the other usage mistakes (exit 64, `send`'s usage); read when the command runs.
                if path != "-", let reason = Self.unreadable(path) {
                    throw ValidationError("cannot read --file '\(path)': \(reason)")
                }
                continue
            }
            let data: Data
            if path == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                do {
                    data = try Data(contentsOf: URL(fileURLWithPath: path))
                } catch {
                    throw ValidationError("cannot read --file '\(path)': \(ErrorText.describe(error))")
                }
            }
            result.append((Array(data), ByteEscapes.render(data)))
        }
        return result
    }
}
