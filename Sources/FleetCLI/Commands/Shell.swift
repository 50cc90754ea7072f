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
            (arrows, Home/End, Ctrl-A/E/U/K/W) and history (up/down; kept in $XDG_STATE_HOME/fleetcmd/shell_history). \
            Commands: `:hex 1b40` sends bytes, `:raw` shows what the wire carries (toggle), `:help`, `:quit` (or \
            Ctrl-D). Exit codes: 0 at :quit or end of input, else the code of the failure that ended the session \
            (as send).
            """)

    @Argument(
        help: ArgumentHelp("The device: host or host:port (default port: the preset's).", valueName: "host[:port]"))
    var device: String

    @OptionGroup var client: ClientOptions

    @Option(help: ArgumentHelp("History file (default: $XDG_STATE_HOME/fleetcmd/shell_history).", valueName: "path"))
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
        let configuration = try client.configuration(for: preset)
        let showWire = NIOLockedValueBox(false)
        let connection: DeviceConnection
        do {
            connection = try await DeviceConnection.open(address, configuration: configuration) { direction, bytes in
                guard showWire.withLockedValue({ $0 }) else { return }
                Console.out("\(direction == .sent ? ">" : "<") \(ByteEscapes.hex(bytes))")
            }
        } catch let error as DeviceError {
            Console.error(error.description)
            throw ExitStatus.exit(for: error.code)
        }
        let interactive = isatty(STDIN_FILENO) == 1
        if interactive {
            Console.error("connected to \(connection.device) (\(preset.name)); :help for commands, Ctrl-D to quit")
        }
        var editor = LineEditor(historyFile: history ?? Self.defaultHistoryPath(), interactive: interactive)
        var printer = ReplyPrinter(output: .text, rawReply: false)
        printer.decoder = preset.decoder
        defer { editor.saveHistory() }
        while let line = editor.readLine(prompt: "\(address.host)> ") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let payload: [UInt8]
            switch trimmed.split(separator: " ", maxSplits: 1).first.map(String.init) {
            case ":quit", ":q", ":exit":
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
                let reply = try await connection.send(payload)
                printer.printReply(reply, command: trimmed, request: payload, index: 0, device: connection.device)
            } catch let error as DeviceError {
                Console.error(error.description)
                if error.code == .replyTimeout || error.code == .tooLarge, connection.isOpen { continue }  // still up
                await connection.close()
                throw ExitStatus.exit(for: error.code)
            }
        }
        await connection.close()
    }

    static func defaultHistoryPath() -> String {
        let environment = ProcessInfo.processInfo.environment
        let state = environment["XDG_STATE_HOME"] ?? (NSHomeDirectory() + "/.local/state")
        return state + "/fleetcmd/shell_history"
    }
}

/// Reads lines: with editing and history on a terminal (raw mode, restored after each line), plainly otherwise.
struct LineEditor {
    private var history: [String] = []
    private let historyFile: String
    private let interactive: Bool
    private var added = 0
    private static let historyLimit = 1000

    init(historyFile: String, interactive: Bool) {
        self.historyFile = historyFile
        self.interactive = interactive
        if interactive, let text = try? String(contentsOfFile: historyFile, encoding: .utf8) {
            history = text.split(separator: "\n").map(String.init).suffix(Self.historyLimit).map { $0 }
        }
    }

    mutating func saveHistory() {
        guard interactive, added > 0 else { return }
        let folder = (historyFile as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let text = history.suffix(Self.historyLimit).joined(separator: "\n") + "\n"
        _ = FileManager.default.createFile(
            atPath: historyFile, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
    }

    mutating func readLine(prompt: String) -> String? {
        guard interactive else { return Swift.readLine(strippingNewline: true) }
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { return Swift.readLine(strippingNewline: true) }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        tcsetattr(STDIN_FILENO, TCSADRAIN, &raw)  // DRAIN, not FLUSH: keep what was typed ahead
        defer { tcsetattr(STDIN_FILENO, TCSADRAIN, &saved) }
        let line = edit(prompt: prompt)
        if let line, !line.trimmingCharacters(in: .whitespaces).isEmpty, history.last != line {
            history.append(line)
            added += 1
        }
        return line
    }

    private func edit(prompt: String) -> String? {
        var buffer: [Character] = []
        var cursor = 0
        var browsing = history.count
        var draft: [Character] = []
        var pendingUTF8: [UInt8] = []
        func redraw() {
            var text = "\r" + prompt + String(buffer) + "\u{1B}[K"
            let back = buffer.count - cursor
            if back > 0 { text += "\u{1B}[\(back)D" }
            Console.errRaw(text)
        }
        func byte() -> UInt8? {
            var value: UInt8 = 0
            return read(STDIN_FILENO, &value, 1) == 1 ? value : nil
        }
        redraw()
        while let key = byte() {
            switch key {
            case 0x0D, 0x0A:
                Console.errRaw("\r\n")
                return String(buffer)
            case 0x04:  // Ctrl-D: end of input on an empty line, delete otherwise
                if buffer.isEmpty {
                    Console.errRaw("\r\n")
                    return nil
                }
                if cursor < buffer.count { buffer.remove(at: cursor) }
            case 0x03:  // Ctrl-C: drop the line
                buffer = []
                cursor = 0
                Console.errRaw("^C\r\n")
            case 0x7F, 0x08:
                if cursor > 0 {
                    buffer.remove(at: cursor - 1)
                    cursor -= 1
                }
            case 0x01: cursor = 0
            case 0x05: cursor = buffer.count
            case 0x15:
                buffer.removeFirst(cursor)
                cursor = 0
            case 0x0B: buffer.removeLast(buffer.count - cursor)
            case 0x17:  // Ctrl-W: the word before the cursor
                var start = cursor
                while start > 0, buffer[start - 1] == " " { start -= 1 }
                while start > 0, buffer[start - 1] != " " { start -= 1 }
                buffer.removeSubrange(start..<cursor)
                cursor = start
            case 0x1B:
                guard let next = byte(), next == 0x5B || next == 0x4F, let code = byte() else { break }
                switch code {
                case 0x41, 0x42:  // up, down
                    if browsing == history.count { draft = buffer }
                    browsing = code == 0x41 ? max(0, browsing - 1) : min(history.count, browsing + 1)
                    buffer = browsing == history.count ? draft : Array(history[browsing])
                    cursor = buffer.count
                case 0x43: cursor = min(buffer.count, cursor + 1)
                case 0x44: cursor = max(0, cursor - 1)
                case 0x48: cursor = 0
                case 0x46: cursor = buffer.count
                case 0x33:  // Delete: ESC [ 3 ~
                    _ = byte()
                    if cursor < buffer.count { buffer.remove(at: cursor) }
                default: break
                }
            case 0x20...0x7E:
                buffer.insert(Character(Unicode.Scalar(key)), at: cursor)
                cursor += 1
            case 0x80...:
                pendingUTF8.append(key)
                if let text = String(validating: pendingUTF8, as: UTF8.self) {
                    for character in text {
                        buffer.insert(character, at: cursor)
                        cursor += 1
                    }
                    pendingUTF8 = []
                } else if pendingUTF8.count >= 4 {
                    pendingUTF8 = []
                }
            default:
                break
            }
            redraw()
        }
        Console.errRaw("\r\n")
        return buffer.isEmpty ? nil : String(buffer)
    }
}
