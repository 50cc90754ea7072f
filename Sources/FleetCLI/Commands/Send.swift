import ArgumentParser
import FleetClient
import FleetFraming
import Foundation

/// `fleetcmd send HOST[:PORT] COMMAND...`: the seed article's script, done properly.
struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send one or more commands to one device and print the replies.",
        discussion: """
            Commands go over one connection, in order; each gets one reply, printed in order. Every reply is read \
            until its terminator (for esc-cr, the NUL), across any number of TCP segments.

            Exit codes: 0 all replies arrived, 2 refused, 3 unreachable, 4 connect timeout, 5 reply timeout, \
            6 reset, 7 closed early, 8 reply too large, 9 TLS failure, 1 other failure, 64 usage, 78 unusable TLS \
            file. With --tls the device's certificate is verified (see docs/tls.md).
            """
    )

    @Argument(
        help: ArgumentHelp(
            "The device: host, host:port, [v6addr]:port (default port: the preset's, 9100 for esc-cr).",
            valueName: "host[:port]"))
    var device: String

    @Argument(
        help: ArgumentHelp(
            "Commands: text with escapes (\\r \\n \\t \\0 \\\\ \\xHH \\e) or hex:..; with --hex, hex digits.",
            valueName: "command"))
    var commands: [String] = []

    @Flag(help: "Read each COMMAND as hex digits (spaces, ':' and '-' allowed); framing is still applied.")
    var hex = false

    @Option(
        name: .customLong("file"),
        help: ArgumentHelp(
            "Send the bytes of a file as one command ('-' reads stdin). Repeatable; after the COMMANDs.",
            valueName: "path"), completion: .file())
    var files: [String] = []

    @OptionGroup var client: ClientOptions
    @OptionGroup var session: SessionDisplayOptions

    @Option(
        name: .shortAndLong,
        help: "Output: text, hex, json (one document: an array of a record per command) or jsonl (one per line).")
    var output = OutputFormat.text

    @Option(
        help: ArgumentHelp(
            "Regular expression that marks a reply as an error reply (exit 10, outcome error-reply), as run.",
            valueName: "regex"))
    var errorPattern = SendSettings.defaultErrorPattern

    @Flag(
        help: ArgumentHelp(
            "Write each reply exactly as received, terminator included: no cutting, stripping, escaping or newline.",
            discussion: "To a terminal, control bytes are still escaped (redirect to a file or a pipe for the bytes)."))
    var rawReply = false

    /// The command line's values (``SendSettings`` does the work, for this and for a plain command line).
    var settings: SendSettings {
        var settings = SendSettings(device: device, commands: commands)
        settings.hex = hex
        settings.files = files
        settings.output = output
        settings.errorPattern = errorPattern
        settings.rawReply = rawReply
        settings.verbose = session.verbose
        settings.client = client.settings
        return settings
    }

    func validate() throws { try settings.validateCommand() }

    func run() async throws { try await settings.run() }
}

/// Prints replies and failures in the chosen output format (`send`, `shell`).
struct ReplyPrinter {
    var output: OutputFormat
    var rawReply: Bool
    /// How the preset explains a reply in text output (ESC/POS status bits).
    var decoder: DevicePreset.ReplyDecoder? = nil
    /// Replies it matches are error replies (JSON outcome `error-reply`). `nil`: none is.
    var errorPattern: ErrorPattern? = nil
    private let records: JSONRecords

    init(output: OutputFormat, rawReply: Bool) {
        self.output = output
        self.rawReply = rawReply
        self.records = JSONRecords(output)
    }

    func isErrorReply(_ reply: Reply) -> Bool {
        guard let errorPattern, !reply.isAbsent else { return false }
        return errorPattern.matches(String(decoding: reply.trimmed, as: UTF8.self))
    }

    /// Ends the output: with `-o json`, the one document of every record.
    func finish() { records.finish() }

    /// One command's record: the same field names as `run` and `probe` (`device` as typed, `address` as
    /// `host:port`, `timings` in milliseconds).
    struct Record: Encodable {
        var device: String
        var address: String
        var index: Int
        var command: String
        var outcome: String
        var reply: String?
        var hex: String?
        var bytes: Int?
        var timings: Timings?
        var error: String?
        /// `true` for a command the device answers with nothing (the preset's rule): `reply` is absent.
        var noReply: Bool?

        enum CodingKeys: String, CodingKey {
            case device, address, index, command, outcome, reply, hex, bytes, timings, error
            case noReply = "no_reply"
        }
    }

    struct Timings: Encodable {
        /// From the command written to its reply complete.
        var replyMs: Double

        enum CodingKeys: String, CodingKey { case replyMs = "reply_ms" }
    }

    /// `device` in records: the target as typed (`send`), or the address (`shell`).
    var deviceName: String? = nil

    func bytes(of reply: Reply) -> [UInt8] { rawReply ? reply.frame : Array(reply.trimmed) }

    /// `request`: the bytes sent for it (a status decoder reads which status was asked for).
    func printReply(_ reply: Reply, command: String, request: [UInt8], index: Int, device: String) {
        if reply.isAbsent {
            // A command the device answers with nothing: no line in text (stdout keeps only replies), a record
            // in JSON.
            if output.isJSON {
                records.emit(
                    Record(
                        device: deviceName ?? device, address: device, index: index, command: command, outcome: "ok",
                        noReply: true))
            }
            return
        }
        let shown = bytes(of: reply)
        switch output {
        case .text:
            if decoder == .escposStatus, let byte = reply.payload.first, !rawReply {
                Console.out(EscPosStatus.describe(byte, request: request))
            } else if rawReply, !Console.stdoutIsTerminal {
                Console.outBytes(shown)  // exactly as received, terminator included, nothing added
            } else {
                Console.out(Render.text(shown))
            }
        case .hex:
            Console.out(shown.isEmpty ? "(empty reply)" : ByteEscapes.hexdump(shown))
        case .json, .jsonl:
            records.emit(
                Record(
                    device: deviceName ?? device, address: device, index: index, command: command,
                    outcome: isErrorReply(reply) ? "error-reply" : "ok",
                    reply: String(decoding: shown, as: UTF8.self),
                    hex: ByteEscapes.hex(shown), bytes: reply.payload.count,
                    timings: Timings(replyMs: DurationText.milliseconds(reply.elapsed)), error: nil
                ))
        }
    }

    func printFailure(_ error: DeviceError, command: String, index: Int, device: String) {
        guard output.isJSON else { return }  // text and hex report the error once, on stderr
        records.emit(
            Record(
                device: deviceName ?? device, address: device, index: index, command: command,
                outcome: error.code.label, error: error.description))
    }
}
