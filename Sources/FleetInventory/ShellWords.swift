/// Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible's INI reader uses for host lines:
/// quotes group and disappear, a backslash escapes, and `#` starts a comment even inside a word (`h#x` is `h`).
enum ShellWords {
    struct Unbalanced: Error {
        let text: String
    }

    private static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n"
    }

    static func split(_ line: String) -> Result<[String], Unbalanced> {
        // Without quotes, escapes or a comment, words are what whitespace separates.
        if !line.utf8.contains(where: { $0 == 0x22 || $0 == 0x27 || $0 == 0x5C || $0 == 0x23 }) {
            return .success(
                line.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }).map {
                    String(Substring($0))
                })
        }
        enum State: Equatable { case space, word, quote(Unicode.Scalar), escape }
        var words: [String] = []
        var token = String.UnicodeScalarView()
        var quoted = false
        var state = State.space
        var escapedState = State.word
        func emit() {
            words.append(String(token))
            token = String.UnicodeScalarView()
            quoted = false
        }
        for scalar in line.unicodeScalars {
            switch state {
            case .space:
                if Self.isWhitespace(scalar) { continue }
                if scalar == "#" { return .success(words) }
                if scalar == "\\" {
                    escapedState = .word
                    state = .escape
                } else if scalar == "\"" || scalar == "'" {
                    quoted = true
                    state = .quote(scalar)
                } else {
                    token.append(scalar)
                    state = .word
                }
            case .word:
                if Self.isWhitespace(scalar) {
                    state = .space
                    if !token.isEmpty || quoted { emit() }
                } else if scalar == "#" {
                    if !token.isEmpty || quoted { emit() }
                    return .success(words)
                } else if scalar == "\"" || scalar == "'" {
                    quoted = true
                    state = .quote(scalar)
                } else if scalar == "\\" {
                    escapedState = .word
                    state = .escape
                } else {
                    token.append(scalar)
                }
            case .quote(let quote):
                if scalar == quote {
                    state = .word
                } else if scalar == "\\", quote == "\"" {
                    escapedState = state
                    state = .escape
                } else {
                    token.append(scalar)
                }
            case .escape:
                // Inside double quotes only the quote and the backslash itself can be escaped.
                if case .quote(let quote) = escapedState, scalar != "\\", scalar != quote {
                    token.append("\\")
                }
                token.append(scalar)
                state = escapedState
            }
        }
        switch state {
        case .quote: return .failure(Unbalanced(text: "No closing quotation"))
        case .escape: return .failure(Unbalanced(text: "No escaped character"))
        case .word, .space:
            if !token.isEmpty || quoted { emit() }
            return .success(words)
        }
    }
}
