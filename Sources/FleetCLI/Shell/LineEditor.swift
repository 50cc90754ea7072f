import Foundation
import NIOConcurrencyHelpers

/// Reads lines: with editing, history and history search on a terminal (raw mode, restored after each line),
/// plainly otherwise.
///
/// Keys come from ``KeyDecoder`` (every usual terminal's sequences; an unknown one is dropped whole). A line wider
/// than the terminal scrolls sideways around the cursor, as readline's horizontal-scroll mode does. Ctrl-R searches
/// the history backwards (Ctrl-R again: the next older match; Enter runs the match; Ctrl-G or Ctrl-C leaves the
/// search; another editing key takes the match into the line).
///
/// However the shell ends, the terminal is restored and the history saved: at the end of input, and at SIGTERM,
/// SIGHUP or SIGINT (exit status 128 + the signal), which otherwise would leave the terminal without echo.
final class LineEditor: @unchecked Sendable {
    private let lock = NIOLock()
    // Under `lock`: the signal handlers read them from another thread.
    private var history: [String] = []
    private var added = 0
    private var rawModeSaved: termios?
    /// What the edit line shows now (while a line is being edited), to draw it again below an interjected line.
    private var shown: String?
    /// Keys typed while a reply was pending, for the next line.
    private var typeAhead: [UInt8] = []

    private let historyFile: String
    private let interactive: Bool
    private var signalSources: [any DispatchSourceSignal] = []
    private static let historyLimit = 1000

    init(historyFile: String, interactive: Bool) {
        self.historyFile = historyFile
        self.interactive = interactive
        guard interactive else { return }
        if let text = try? String(contentsOfFile: historyFile, encoding: .utf8) {
            history = text.split(separator: "\n").map(String.init).suffix(Self.historyLimit).map { $0 }
        }
        for number in [SIGTERM, SIGHUP, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in end(bySignal: number) }
            source.resume()
            signalSources.append(source)
        }
    }

    /// Writes the history (mode 0600) if this session added to it.
    func saveHistory() {
        lock.withLock { saveHistoryLocked() }
    }

    private func saveHistoryLocked() {
        guard interactive, added > 0 else { return }
        let folder = (historyFile as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let text = history.suffix(Self.historyLimit).joined(separator: "\n") + "\n"
        _ = FileManager.default.createFile(
            atPath: historyFile, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        added = 0
    }

    private func end(bySignal number: Int32) {
        end(status: 128 + number, message: nil)
    }

    /// Ends the shell from any thread (the device closed the session): the terminal restored, the history saved,
    /// `message` on stderr, exit with `status`.
    func end(status: Int32, message: String?) -> Never {
        lock.withLock {
            if var saved = rawModeSaved { tcsetattr(STDIN_FILENO, TCSANOW, &saved) }
            saveHistoryLocked()
            if shown != nil { Console.errRaw("\r\u{1B}[K") }
        }
        if let message { Console.error(message) } else { Console.errRaw("\r\n") }
        exit(status)
    }

    /// Prints `line` on stdout now, from any thread (a frame the device pushed): above the line being edited,
    /// which is drawn again below it.
    func interject(_ line: String) {
        lock.withLock {
            guard let shown else {
                Console.out(line)
                return
            }
            Console.errRaw("\r\u{1B}[K")
            Console.out(line)
            Console.errRaw(shown)
        }
    }

    private func draw(_ text: String) {
        lock.withLock {
            shown = text
            Console.errRaw(text)
        }
    }

    func readLine(prompt: String) -> String? {
        guard interactive, enterRawMode() else { return Swift.readLine(strippingNewline: true) }
        let past = lock.withLock { history }
        var state = EditState(prompt: prompt, history: past, columns: Self.columns())
        let line = state.run(next: nextByte, draw: draw)
        lock.withLock { shown = nil }
        if let line, !line.trimmingCharacters(in: .whitespaces).isEmpty, past.last != line {
            lock.withLock {
                history.append(line)
                added += 1
            }
        }
        return line
    }

    /// While `body` waits for the device (a reply pending), the keyboard still works: Ctrl-D leaves the shell at
    /// once (exit 0), Ctrl-C as SIGINT does (130), and anything else typed is kept for the next line. Without this
    /// the terminal is in cooked mode while waiting, and a Ctrl-D typed then is lost.
    func whilePending<T>(_ body: () async throws -> T) async throws -> T {
        guard interactive, enterRawMode() else { return try await body() }
        let stop = NIOLockedValueBox(false)
        let stopped = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [self] in
            defer { stopped.signal() }
            while !stop.withLockedValue({ $0 }) {
                var ready = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
                guard poll(&ready, 1, 50) > 0 else { continue }
                guard let byte = Self.byte() else { return }  // end of input: the next line sees it
                switch byte {
                case 0x04: end(status: 0, message: "(closed with a reply pending)")
                case 0x03: end(status: 128 + SIGINT, message: nil)
                default: lock.withLock { typeAhead.append(byte) }
                }
            }
        }
        defer {
            stop.withLockedValue { $0 = true }
            stopped.wait()  // at most one poll interval: then only the line editor reads the keyboard
        }
        return try await body()
    }

    /// Puts the terminal in raw mode (no echo, no line discipline, no signals from keys) for the whole session:
    /// switching back to cooked mode between lines would lose a Ctrl-D typed while the terminal was cooked (the
    /// line discipline takes it as end-of-file, which raw mode never sees). Output processing stays on. `false`
    /// when stdin is not a terminal after all.
    private func enterRawMode() -> Bool {
        lock.withLock {
            if rawModeSaved != nil { return true }
            var saved = termios()
            guard tcgetattr(STDIN_FILENO, &saved) == 0 else { return false }
            var raw = saved
            raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
            raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
            rawModeSaved = saved
            tcsetattr(STDIN_FILENO, TCSADRAIN, &raw)  // DRAIN, not FLUSH: keep what was typed ahead
            return true
        }
    }

    /// Gives the terminal back its settings (the shell is ending).
    func restoreTerminal() {
        lock.withLock {
            guard var saved = rawModeSaved else { return }
            tcsetattr(STDIN_FILENO, TCSADRAIN, &saved)
            rawModeSaved = nil
        }
    }

    private func nextByte() -> UInt8? {
        let typed: UInt8? = lock.withLock { typeAhead.isEmpty ? nil : typeAhead.removeFirst() }
        return typed ?? Self.byte()
    }

    private static func byte() -> UInt8? {
        var value: UInt8 = 0
        while true {
            let count = read(STDIN_FILENO, &value, 1)
            if count == 1 { return value }
            if count < 0, errno == EINTR { continue }
            return nil
        }
    }

    /// The terminal's width (of stderr, where the line is drawn); 80 when unknown.
    private static func columns() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }
}

/// One line being edited: the buffer, the cursor, history browsing and search, and how it is drawn.
struct EditState {
    let prompt: String
    let history: [String]
    let columns: Int
    var buffer: [Character] = []
    var cursor = 0
    private var browsing: Int
    private var draft: [Character] = []
    private var scroll = 0
    /// While searching (Ctrl-R): the text looked for and the history entry it matched.
    private var search: (query: [Character], match: Int?)?
    private var decoder = KeyDecoder()

    init(prompt: String, history: [String], columns: Int) {
        self.prompt = prompt
        self.history = history
        self.columns = max(columns, prompt.count + 8)
        self.browsing = history.count
    }

    /// Edits until Enter (the line), or Ctrl-D on an empty line or the end of input (`nil`).
    mutating func run(next: () -> UInt8?, draw: (String) -> Void) -> String? {
        draw(rendering())
        while let byte = next() {
            guard let key = decoder.feed(byte) else { continue }
            switch apply(key) {
            case .line(let line):
                Console.errRaw("\r\n")
                return line
            case .endOfInput:
                Console.errRaw("\r\n")
                return nil
            case .cancelled:
                Console.errRaw("^C\r\n")
                draw(rendering())
            case .editing:
                draw(rendering())
            }
        }
        Console.errRaw("\r\n")
        return buffer.isEmpty ? nil : String(buffer)
    }

    enum Outcome: Equatable {
        case editing
        /// Ctrl-C: the line was dropped (the caller shows `^C` and a fresh prompt).
        case cancelled
        case line(String)
        case endOfInput
    }

    /// What `key` does to the line.
    mutating func apply(_ key: KeyDecoder.Key) -> Outcome {
        if search != nil, let outcome = applySearching(key) { return outcome }
        switch key {
        case .enter: return .line(String(buffer))
        case .endOfInput:
            if buffer.isEmpty { return .endOfInput }
            if cursor < buffer.count { buffer.remove(at: cursor) }
        case .interrupt:
            buffer = []
            cursor = 0
            return .cancelled
        case .backspace:
            if cursor > 0 {
                buffer.remove(at: cursor - 1)
                cursor -= 1
            }
        case .delete:
            if cursor < buffer.count { buffer.remove(at: cursor) }
        case .home: cursor = 0
        case .end: cursor = buffer.count
        case .left: cursor = max(0, cursor - 1)
        case .right: cursor = min(buffer.count, cursor + 1)
        case .wordLeft:
            while cursor > 0, buffer[cursor - 1] == " " { cursor -= 1 }
            while cursor > 0, buffer[cursor - 1] != " " { cursor -= 1 }
        case .wordRight:
            while cursor < buffer.count, buffer[cursor] == " " { cursor += 1 }
            while cursor < buffer.count, buffer[cursor] != " " { cursor += 1 }
        case .up, .down:
            if browsing == history.count { draft = buffer }
            browsing = key == .up ? max(0, browsing - 1) : min(history.count, browsing + 1)
            buffer = browsing == history.count ? draft : Array(history[browsing])
            cursor = buffer.count
        case .killToStart:
            buffer.removeFirst(cursor)
            cursor = 0
        case .killToEnd: buffer.removeLast(buffer.count - cursor)
        case .killWordBefore:
            var start = cursor
            while start > 0, buffer[start - 1] == " " { start -= 1 }
            while start > 0, buffer[start - 1] != " " { start -= 1 }
            buffer.removeSubrange(start..<cursor)
            cursor = start
        case .searchHistory: search = ([], nil)
        case .text(let character):
            buffer.insert(character, at: cursor)
            cursor += 1
        case .cancel, .redraw, .ignored: break
        }
        return .editing
    }

    /// Keys while searching; `nil` when the key leaves the search and then edits as usual.
    private mutating func applySearching(_ key: KeyDecoder.Key) -> Outcome? {
        guard let current = search else { return nil }
        var query = current.query
        var match = current.match
        switch key {
        case .text(let character):
            query.append(character)
            match = find(query, before: (match ?? history.count) + 1)
        case .backspace:
            if !query.isEmpty { query.removeLast() }
            match = query.isEmpty ? nil : find(query, before: history.count)
        case .searchHistory:
            if let current = match { match = find(query, before: current) ?? current }
        case .cancel, .interrupt:
            search = nil
            return .editing
        case .enter:
            search = nil
            if let match { return .line(history[match]) }
            return .line(String(buffer))
        case .redraw, .ignored:
            break
        default:
            // Any other key takes the match into the line and then does what it does.
            search = nil
            if let match {
                buffer = Array(history[match])
                cursor = buffer.count
                browsing = match
            }
            return nil
        }
        search = (query, match)
        return .editing
    }

    /// The newest history entry before `limit` that contains `query`.
    private func find(_ query: [Character], before limit: Int) -> Int? {
        let text = String(query)
        var index = min(limit, history.count) - 1
        while index >= 0 {
            if history[index].contains(text) { return index }
            index -= 1
        }
        return nil
    }

    /// What the terminal shows: the prompt and the part of the line around the cursor that fits.
    mutating func rendering() -> String {
        if let (query, match) = search {
            let found = match.map { history[$0] } ?? ""
            let text = "(reverse-i-search)`\(String(query))': \(found)"
            return "\r" + String(text.prefix(columns - 1)) + "\u{1B}[K"
        }
        let room = columns - prompt.count - 1
        if cursor < scroll { scroll = cursor }
        if cursor > scroll + room { scroll = cursor - room }
        if buffer.count - scroll < room { scroll = max(0, min(scroll, buffer.count - room)) }
        let shown = buffer[scroll..<min(buffer.count, scroll + room)]
        var text = "\r" + prompt + String(shown) + "\u{1B}[K"
        let back = scroll + shown.count - cursor
        if back > 0 { text += "\u{1B}[\(back)D" }
        return text
    }

}
