import Testing

@testable import FleetCLI

/// The shell's keys: every usual terminal's sequences decoded whole (nothing of a sequence reaches the line),
/// history search, and lines wider than the terminal.
@Suite struct LineEditingTests {
    private func keys(_ bytes: [UInt8]) -> [KeyDecoder.Key] {
        var decoder = KeyDecoder()
        return bytes.compactMap { decoder.feed($0) }
    }

    private func keys(_ text: String) -> [KeyDecoder.Key] { keys(Array(text.utf8)) }

    /// Types `bytes` into a fresh line (with `history`) and returns the line and the cursor.
    private func typed(_ bytes: [UInt8], history: [String] = [], columns: Int = 80) -> (String, Int, String?) {
        var state = EditState(prompt: "> ", history: history, columns: columns)
        var decoder = KeyDecoder()
        for byte in bytes {
            guard let key = decoder.feed(byte) else { continue }
            if case .line(let line) = state.apply(key) { return (String(state.buffer), state.cursor, line) }
        }
        return (String(state.buffer), state.cursor, nil)
    }

    private func typed(_ text: String, history: [String] = [], columns: Int = 80) -> (String, Int, String?) {
        typed(Array(text.utf8), history: history, columns: columns)
    }

    @Test func homeAndEndAsEveryTerminalSendsThem() {
        // xterm (CSI and SS3), VT220 / Linux console / tmux / screen, rxvt.
        for home in ["\u{1B}[H", "\u{1B}OH", "\u{1B}[1~", "\u{1B}[7~"] { #expect(keys(home) == [.home]) }
        for end in ["\u{1B}[F", "\u{1B}OF", "\u{1B}[4~", "\u{1B}[8~"] { #expect(keys(end) == [.end]) }
        #expect(keys("\u{1B}[3~") == [.delete])
        #expect(keys("\u{1B}[3;5~") == [.delete])
    }

    @Test func wordMovesWithModifiersAndRxvtForms() {
        #expect(keys("\u{1B}[1;5D\u{1B}[1;5C") == [.wordLeft, .wordRight])  // Ctrl
        #expect(keys("\u{1B}[1;3D\u{1B}[1;3C") == [.wordLeft, .wordRight])  // Alt
        #expect(keys("\u{1B}Od\u{1B}Oc") == [.wordLeft, .wordRight])  // rxvt
        #expect(keys("\u{1B}b\u{1B}f") == [.wordLeft, .wordRight])  // readline's Alt-b, Alt-f
        #expect(keys("\u{1B}[1;2D") == [.left])  // Shift alone moves by a character
    }

    @Test func unknownSequencesAreDroppedWhole() {
        // Insert, Page Up/Down, F5, F12, a focus event, a very long parameter list: nothing reaches the line.
        let noise =
            "\u{1B}[2~\u{1B}[5~\u{1B}[6~\u{1B}[15~\u{1B}[24~\u{1B}[I\u{1B}[" + String(repeating: "1;", count: 40) + "5D"
        #expect(typed(noise + "ok").0 == "ok")
        #expect(keys("\u{1B}[5~").allSatisfy { $0 == .ignored })
    }

    @Test func editingAtHomeAndEndKeepsTheLineClean() {
        // "world", Home (Linux console form), "hello ", End (rxvt form), "!": no stray "~" or digits.
        let (line, cursor, _) = typed("world\u{1B}[1~hello \u{1B}[8~!")
        #expect(line == "hello world!")
        #expect(cursor == 12)
        #expect(typed("one two three\u{1B}[1;5D\u{1B}[1;5D\u{1B}[3~").0 == "one wo three")
    }

    @Test func utf8CharactersAndCutOnes() {
        #expect(typed("caf\u{E9} \u{1F600}").0 == "caf\u{E9} \u{1F600}")
        #expect(typed([0x61, 0xC3, 0x62]).0 == "ab")  // a cut character is dropped, the next byte kept
    }

    @Test func ctrlRFindsTheNewestMatchAndAgainAnOlderOne() {
        let history = ["STATUS", "SET A 1", "PING", "SET B 2"]
        #expect(typed("\u{12}SET\r", history: history).2 == "SET B 2")
        #expect(typed("\u{12}SET\u{12}\r", history: history).2 == "SET A 1")
        // Another key takes the match into the line to edit it.
        #expect(typed("\u{12}PI\u{1B}[DX\r", history: history).2 == "PINXG")
        // Ctrl-G leaves the search with the line as it was.
        #expect(typed("ab\u{12}SET\u{07}c\r", history: history).2 == "abc")
    }

    @Test func aLineWiderThanTheTerminalScrollsAroundTheCursor() {
        var state = EditState(prompt: "> ", history: [], columns: 20)
        for character in "0123456789abcdefghijklmnopqrstuvwxyz" { _ = state.apply(.text(character)) }
        let end = state.rendering()
        #expect(end.hasPrefix("\r> jklmnopqrstuvwxyz"))  // 17 columns after the prompt, the cursor in the last
        #expect(!end.contains("0123"))
        _ = state.apply(.home)
        let start = state.rendering()
        #expect(start.hasPrefix("\r> 0123456789abcdefg"))
        #expect(!start.contains("xyz"))
    }

    @Test func ctrlCDropsTheLineAndLeavesTheShowingToTheCaller() {
        var state = EditState(prompt: "> ", history: [], columns: 40)
        for character in "STATUS" { _ = state.apply(.text(character)) }
        #expect(state.apply(.interrupt) == .cancelled)
        #expect(state.buffer.isEmpty && state.cursor == 0)
        #expect(typed("junk\u{3}PING\r").2 == "PING")
    }
}
