import FleetFraming

/// ESC/POS real-time status (`DLE EOT n`, Epson ESC/POS Command Reference): one byte, decoded bit by bit. The
/// meaning of the bits depends on `n`, the command's last byte (1 printer, 2 offline cause, 3 error cause,
/// 4 roll paper sensor).
enum EscPosStatus {
    static func describe(_ byte: UInt8, command: String) -> String {
        let bits = String(byte, radix: 2)
        let binary = String(repeating: "0", count: 8 - bits.count) + bits
        let hex = String(byte, radix: 16)
        var lines = ["0x\(hex.count == 1 ? "0" + hex : hex) (\(binary))"]
        let n = (try? ByteEscapes.parseHex(command))?.last ?? (try? ByteEscapes.parse(command))?.last
        func flag(_ bit: Int, _ set: String, _ clear: String) {
            lines.append("  bit \(bit): \(byte & (1 << bit) != 0 ? set : clear)")
        }
        switch n {
        case 1:
            flag(3, "offline", "online")
            flag(5, "waiting for online recovery", "not waiting for online recovery")
            flag(6, "paper feed button pressed", "paper feed button not pressed")
        case 2:
            flag(2, "cover open", "cover closed")
            flag(3, "paper being fed by the feed button", "paper not being fed by the button")
            flag(5, "printing stopped: paper end", "no paper-end stop")
            flag(6, "error", "no error")
        case 3:
            flag(3, "autocutter error", "no autocutter error")
            flag(5, "unrecoverable error", "no unrecoverable error")
            flag(6, "automatically recoverable error", "no automatically recoverable error")
        case 4:
            lines.append("  bits 2-3: \(byte & 0x0C == 0x0C ? "roll paper near end" : "roll paper adequate")")
            lines.append("  bits 5-6: \(byte & 0x60 == 0x60 ? "roll paper end" : "roll paper present")")
        default:
            lines.append("  (send DLE EOT 1, 2, 3 or 4 to have the bits named)")
        }
        let fixed = byte & 0x93 == 0x12
        if !fixed { lines.append("  warning: bits 0, 1, 4, 7 are not 0, 1, 1, 0: not a DLE EOT status byte?") }
        return lines.joined(separator: "\n")
    }
}
