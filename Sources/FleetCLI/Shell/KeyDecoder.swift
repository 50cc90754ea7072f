/// Turns the bytes a terminal sends into editing keys, one byte at a time: a state machine with no I/O, so that
/// every key sequence can be tested without a terminal.
///
/// It knows the sequences of the usual terminals (xterm and its descendants, VT220, rxvt, the Linux console,
/// tmux and screen, which send the xterm or VT220 forms): `ESC [ … final` (CSI, with numeric parameters and
/// modifiers such as `ESC [ 1 ; 5 D` for Ctrl-Left) and `ESC O final` (SS3). A sequence is always consumed whole;
/// one it does not know becomes ``Key/ignored`` and never reaches the line (a half-read `ESC [ 1 ~` once inserted
/// `~`).
struct KeyDecoder {
    enum Key: Equatable {
        case text(Character)
        case enter
        /// Ctrl-D.
        case endOfInput
        /// Ctrl-C.
        case interrupt
        case backspace, delete
        case home, end, left, right, wordLeft, wordRight, up, down
        /// Ctrl-U, Ctrl-K, Ctrl-W (and Alt-Backspace).
        case killToStart, killToEnd, killWordBefore
        /// Ctrl-R: search the history backwards.
        case searchHistory
        /// Ctrl-G: leave a search.
        case cancel
        /// Ctrl-L.
        case redraw
        /// A key or sequence that edits nothing (function keys, Alt-letters, Insert, Page Up …).
        case ignored
    }

    private enum State {
        case ground
        case escape
        case csi([UInt8])
        case ss3
        case utf8([UInt8])
    }

    private var state = State.ground
    /// Parameters longer than this are no key any terminal sends: the sequence is read to its end and ignored.
    private static let maxParameters = 16

    /// The key `byte` completes, or `nil` while a sequence or a character is incomplete.
    mutating func feed(_ byte: UInt8) -> Key? {
        switch state {
        case .ground:
            return ground(byte)
        case .escape:
            state = .ground
            switch byte {
            case UInt8(ascii: "["):
                state = .csi([])
                return nil
            case UInt8(ascii: "O"):
                state = .ss3
                return nil
            case UInt8(ascii: "b"): return .wordLeft  // Alt-b, as readline
            case UInt8(ascii: "f"): return .wordRight  // Alt-f
            case 0x7F, 0x08: return .killWordBefore  // Alt-Backspace
            case 0x1B:
                state = .escape  // ESC ESC …: the second one starts the sequence
                return .ignored
            default: return .ignored  // Alt-something else
            }
        case .csi(var parameters):
            switch byte {
            case 0x20...0x3F:  // parameter and intermediate bytes
                if parameters.count < Self.maxParameters { parameters.append(byte) }
                state = .csi(parameters)
                return nil
            case 0x40...0x7E:
                state = .ground
                return parameters.count < Self.maxParameters ? csi(parameters, final: byte) : .ignored
            default:  // a control byte inside a sequence: the sequence is broken; drop it, keep the byte
                state = .ground
                return ground(byte)
            }
        case .ss3:
            state = .ground
            switch byte {
            case UInt8(ascii: "A"): return .up
            case UInt8(ascii: "B"): return .down
            case UInt8(ascii: "C"): return .right
            case UInt8(ascii: "D"): return .left
            case UInt8(ascii: "H"): return .home
            case UInt8(ascii: "F"): return .end
            case UInt8(ascii: "c"): return .wordRight  // rxvt Ctrl-Right
            case UInt8(ascii: "d"): return .wordLeft  // rxvt Ctrl-Left
            case UInt8(ascii: "M"): return .enter  // keypad Enter
            default: return .ignored
            }
        case .utf8(var pending):
            guard byte & 0xC0 == 0x80 else {  // not a continuation byte: the character was cut
                state = .ground
                return ground(byte)
            }
            pending.append(byte)
            if let text = String(validating: pending, as: UTF8.self), let character = text.first {
                state = .ground
                return .text(character)
            }
            if pending.count >= 4 {
                state = .ground
                return .ignored
            }
            state = .utf8(pending)
            return nil
        }
    }

    private mutating func ground(_ byte: UInt8) -> Key? {
        switch byte {
        case 0x0D, 0x0A: return .enter
        case 0x04: return .endOfInput
        case 0x03: return .interrupt
        case 0x7F, 0x08: return .backspace
        case 0x01: return .home
        case 0x05: return .end
        case 0x02: return .left
        case 0x06: return .right
        case 0x0E: return .down
        case 0x10: return .up
        case 0x15: return .killToStart
        case 0x0B: return .killToEnd
        case 0x17: return .killWordBefore
        case 0x12: return .searchHistory
        case 0x07: return .cancel
        case 0x0C: return .redraw
        case 0x1B:
            state = .escape
            return nil
        case 0x20...0x7E: return .text(Character(Unicode.Scalar(byte)))
        case 0xC2...0xF4:
            state = .utf8([byte])
            return nil
        default: return .ignored  // other control bytes, stray continuation bytes
        }
    }

    /// `ESC [ parameters final`: cursor keys (with modifiers), Home/End and the VT220 `~` keys.
    private func csi(_ parameters: [UInt8], final: UInt8) -> Key {
        let fields = String(decoding: parameters, as: UTF8.self).split(separator: ";", omittingEmptySubsequences: false)
        let number = fields.first.flatMap { Int($0) } ?? 1
        let modifier = fields.count > 1 ? (Int(fields[1]) ?? 1) : 1
        let byWord = modifier > 1 && (modifier - 1) & 0b110 != 0  // Ctrl or Alt
        switch final {
        case UInt8(ascii: "A"): return .up
        case UInt8(ascii: "B"): return .down
        case UInt8(ascii: "C"): return byWord ? .wordRight : .right
        case UInt8(ascii: "D"): return byWord ? .wordLeft : .left
        case UInt8(ascii: "H"): return .home
        case UInt8(ascii: "F"): return .end
        case UInt8(ascii: "~"):
            switch number {
            case 1, 7: return .home  // VT220 / Linux console, rxvt
            case 4, 8: return .end
            case 3: return .delete
            default: return .ignored  // Insert, Page Up/Down, function keys
            }
        default: return .ignored
        }
    }
}
