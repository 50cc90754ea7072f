import ArgumentParser
import FleetClient
import FleetFraming
import FleetTLS
import Foundation
import NIOConcurrencyHelpers

/// `fleetcmd shell HOST[:PORT]`: an interactive session with one device over one connection, a framing-aware `nc`.
struct Shell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shell",
        abstract: "Talk to one device interactively over one connection, framed by its preset.",
        discussion: """
            Each line is sent as one command (escapes like \\r, \\x1b, hex:.. work as in send) and its reply is \
            printed when it is complete, with escapes for non-printable bytes. On a terminal: line editing \
            (arrows, Home/End, Ctrl-Left/Right, Ctrl-A/E/U/K/W) and history (up/down, Ctrl-R to search; kept in \
            $XDG_STATE_HOME/fleetcmd/shell_history, also when the shell is ended by a signal). \
            Commands: `:hex 1b40` sends bytes, `:raw` shows what the wire carries (toggle), `:help`, `:quit` (or \
            Ctrl-D). Exit codes: 0 at :quit or end of input, else the code of the failure that ended the session \
            (as send).
            """)

    @Argument(
        help: ArgumentHelp("The device: host or host:port (default port: the preset's).", valueName: "host[:port]"))
    var device: String

    @OptionGroup var client: ClientOptions
    @OptionGroup var session: SessionDisplayOptions

    @Option(
        help: ArgumentHelp("History file (default: $XDG_STATE_HOME/fleetcmd/shell_history).", valueName: "path"),
        completion: .file())
    var history: String?

    func validate() throws {
        do { _ = try DeviceAddress(parsing: device) } catch { throw ValidationError("\(error)") }
        if client.halfClose == .always {
            throw ValidationError("--half-close always would end the shell after its first command; use auto or never")
        }
    }

    func run() async throws {
        let preset = try client.framing.devicePreset()
        let address = try DeviceAddress(parsing: device, defaultPort: preset.defaultPort)
        let configuration = try client.settings.configuration(for: preset)
        let showWire = NIOLockedValueBox(false)
        let closing = NIOLockedValueBox(false)  // the shell itself is closing the connection
        // Line editing draws with escape sequences: only on a terminal that takes them (not TERM=dumb).
        let interactive = isatty(STDIN_FILENO) == 1 && Console.termTakesEscapes
        let editor = LineEditor(historyFile: history ?? Self.defaultHistoryPath(), interactive: interactive)
        let connection: DeviceConnection
        do {
            connection = try await DeviceConnection.open(
                address, configuration: configuration,
                wire: { direction, bytes in
                    guard showWire.withLockedValue({ $0 }) else { return }
                    editor.interject("\(direction == .sent ? ">" : "<") \(ByteEscapes.hex(bytes))")
                },
                events: { event in
                    switch event {
                    case .unsolicited(let frame):
                        // Pushed by the device: shown as it arrives, marked so it is not taken for a reply.
                        editor.interject("(from device) " + frame.text)
                    case .closed(let error):
                        // Noticed when it happens, not at the next command: on a terminal the session ends
                        // there; with piped input the next command fails with it (as before).
                        guard interactive, !closing.withLockedValue({ $0 }) else { return }
                        editor.end(status: ExitStatus.code(for: error.code), message: error.description)
                    }
                })
        } catch let error as DeviceError {
            Console.error(error.description)
            throw ExitStatus.exit(for: error.code)
        }
        session.showGreeting(connection.greeting, device: connection.device)
        if interactive {
            Console.error("connected to \(connection.device) (\(preset.name)); :help for commands, Ctrl-D to quit")
        }
        var printer = ReplyPrinter(output: .text, rawReply: false)
        printer.decoder = preset.decoder
        defer {
            editor.restoreTerminal()
            editor.saveHistory()
        }
        while let line = editor.readLine(prompt: "\(address.host)> ") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let payload: [UInt8]
            switch trimmed.split(separator: " ", maxSplits: 1).first.map(String.init) {
            case ":quit", ":q", ":exit":
                closing.withLockedValue { $0 = true }
                await connection.close()
                return
            case ":help":
                Console.out(
                    ":hex HEX   send bytes (framing still applied)\n:raw       show the bytes on the wire (toggle)\n:quit      close and exit (Ctrl-D too)\n::TEXT     send :TEXT (a command that starts with a colon)"
                )
                continue
            case ":raw":
                let now = showWire.withLockedValue { value in
                    value.toggle()
                    return value
                }
                Console.out("raw \(now ? "on" : "off")")
                continue
            case ":hex":
                do {
                    payload = try ByteEscapes.parseHex(String(trimmed.dropFirst(4)))
                } catch {
                    Console.out("error: \(error)")
                    continue
                }
            case let word? where word.hasPrefix(":") && !word.hasPrefix("::"):
                // A mistyped `:quit` must not reach the device.
                Console.out("error: unknown command \(word) (:help lists them; start with :: to send a leading colon)")
                continue
            default:
                do {
                    // `::text` sends `:text`: the first colon only escapes the second.
                    let text = trimmed.hasPrefix("::") ? String(line[line.firstIndex(of: ":")!...].dropFirst()) : line
                    payload = try ByteEscapes.parse(text)
                } catch {
                    Console.out("error: \(error)")
                    continue
                }
            }
            do {
                let reply = try await editor.whilePending { try await connection.send(payload) }
                if reply.isAbsent {
                    Console.out("(sent; the device answers this command with nothing)")
                    continue
                }
                printer.printReply(reply, command: trimmed, request: payload, index: 0, device: connection.device)
            } catch let error as DeviceError {
                Console.error(error.description)
                if error.code == .replyTimeout || error.code == .tooLarge, connection.isOpen { continue }  // still up
                closing.withLockedValue { $0 = true }
                await connection.close()
                throw ExitStatus.exit(for: error.code)
            }
        }
        closing.withLockedValue { $0 = true }
        await connection.close()
    }

    static func defaultHistoryPath() -> String {
        let environment = ProcessEnvironment.variables
        let state = environment["XDG_STATE_HOME"] ?? (HomeDirectory.path(environment) + "/.local/state")
        return state + "/fleetcmd/shell_history"
    }
}
