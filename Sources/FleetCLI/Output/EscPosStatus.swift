/// ESC/POS real-time status (`DLE EOT n`, Epson ESC/POS Command Reference, "DLE EOT n: Transmit real-time
/// status"): one byte, decoded bit by bit. The meaning of the bits depends on `n`, the request's last byte
/// (1 printer status, 2 offline cause, 3 error cause, 4 roll paper sensor). Every bit the reference defines is
/// named; the others are shown as fixed, with the value the reference fixes them to (a byte where they differ
/// is flagged: it is probably not a status byte).
enum EscPosStatus {
    /// What one bit (or a pair of bits that always change together) means.
    private enum Bit {
        /// A defined bit: the text when it is 0 and when it is 1.
        case flag(Int, clear: String, set: String)
        /// Two bits that report one sensor: both 0 or both 1.
        case pair(Int, Int, clear: String, set: String)
        /// A bit the reference fixes to a value.
        case fixed(Int, Bool)
    }

    /// The reference's table for each `n`, bit 0 first.
    private static let tables: [UInt8: [Bit]] = [
        1: [
            .fixed(0, false), .fixed(1, true),
            .flag(2, clear: "drawer kick-out connector pin 3 is LOW", set: "drawer kick-out connector pin 3 is HIGH"),
            .flag(3, clear: "online", set: "offline"),
            .fixed(4, true),
            .flag(5, clear: "not waiting for online recovery", set: "waiting for online recovery"),
            .flag(6, clear: "paper feed button not pressed", set: "paper feed button pressed"),
            .fixed(7, false),
        ],
        2: [
            .fixed(0, false), .fixed(1, true),
            .flag(2, clear: "cover closed", set: "cover open"),
            .flag(3, clear: "paper not being fed by the button", set: "paper being fed by the feed button"),
            .fixed(4, true),
            .flag(5, clear: "no paper-end stop", set: "printing stopped: paper end"),
            .flag(6, clear: "no error", set: "error"),
            .fixed(7, false),
        ],
        3: [
            .fixed(0, false), .fixed(1, true),
            .flag(2, clear: "no recoverable error", set: "recoverable error"),
            .flag(3, clear: "no autocutter error", set: "autocutter error"),
            .fixed(4, true),
            .flag(5, clear: "no unrecoverable error", set: "unrecoverable error"),
            .flag(6, clear: "no automatically recoverable error", set: "automatically recoverable error"),
            .fixed(7, false),
        ],
        4: [
            .fixed(0, false), .fixed(1, true),
            .pair(2, 3, clear: "roll paper adequate (near-end sensor)", set: "roll paper near end (near-end sensor)"),
            .fixed(4, true),
            .pair(5, 6, clear: "roll paper present (end sensor)", set: "roll paper end (end sensor)"),
            .fixed(7, false),
        ],
    ]

    /// `byte` decoded for the `DLE EOT n` in `request` (its last byte is `n`), one line per bit after a header.
    static func describe(_ byte: UInt8, request: [UInt8]) -> String {
        let bits = String(byte, radix: 2)
        let binary = String(repeating: "0", count: 8 - bits.count) + bits
        let hex = String(byte, radix: 16)
        var lines = ["0x\(hex.count == 1 ? "0" + hex : hex) (\(binary))"]
        func isSet(_ bit: Int) -> Bool { byte & (1 << bit) != 0 }
        guard request.count >= 3, request[request.count - 3] == 0x10, request[request.count - 2] == 0x04,
            let n = request.last, let table = tables[n]
        else {
            lines.append("  (send DLE EOT 1, 2, 3 or 4 to have the bits named)")
            return lines.joined(separator: "\n")
        }
        var unexpected: [Int] = []
        for entry in table {
            switch entry {
            case .flag(let bit, let clear, let set):
                lines.append("  bit \(bit): \(isSet(bit) ? set : clear)")
            case .pair(let low, let high, let clear, let set):
                let text: String
                switch (isSet(low), isSet(high)) {
                case (false, false): text = clear
                case (true, true): text = set
                default: text = "bits disagree (the reference sets both or neither)"
                }
                lines.append("  bits \(low)-\(high): \(text)")
            case .fixed(let bit, let value):
                lines.append("  bit \(bit): fixed (\(value ? 1 : 0))")
                if isSet(bit) != value { unexpected.append(bit) }
            }
        }
        if !unexpected.isEmpty {
            let list = unexpected.map(String.init).joined(separator: ", ")
            lines.append(
                "  warning: fixed bit\(unexpected.count == 1 ? "" : "s") \(list) differ: not a DLE EOT status byte?")
        }
        return lines.joined(separator: "\n")
    }
}
