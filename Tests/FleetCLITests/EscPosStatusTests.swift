import Testing

@testable import FleetCLI

/// `DLE EOT n` status bytes decoded as the Epson ESC/POS Command Reference's tables give them.
@Suite struct EscPosStatusTests {
    private func lines(_ byte: UInt8, _ n: UInt8) -> [String] {
        EscPosStatus.describe(byte, request: [0x10, 0x04, n]).split(separator: "\n").map(String.init)
    }

    @Test func everyBitOfThePrinterStatusIsNamed() {
        // 0x12 and 0x16 differ only in bit 2 (drawer kick-out connector pin 3): they must not read the same.
        let low = lines(0x12, 1)
        let high = lines(0x16, 1)
        #expect(low != high)
        #expect(low.contains("  bit 2: drawer kick-out connector pin 3 is LOW"))
        #expect(high.contains("  bit 2: drawer kick-out connector pin 3 is HIGH"))
        #expect(low.count == 9)  // the header and eight bits
        #expect(low.contains("  bit 0: fixed (0)") && low.contains("  bit 1: fixed (1)"))
        #expect(low.contains("  bit 4: fixed (1)") && low.contains("  bit 7: fixed (0)"))
        #expect(!low.contains { $0.contains("warning") })
    }

    @Test func errorCauseNamesBitTwo() {
        #expect(lines(0x16, 3).contains("  bit 2: recoverable error"))
        #expect(lines(0x12, 3).contains("  bit 2: no recoverable error"))
        #expect(lines(0x32, 3).contains("  bit 5: unrecoverable error"))
    }

    @Test func rollPaperSensorsArePairs() {
        #expect(lines(0x1E, 4).contains("  bits 2-3: roll paper near end (near-end sensor)"))
        #expect(lines(0x72, 4).contains("  bits 5-6: roll paper end (end sensor)"))
        #expect(lines(0x16, 4).contains("  bits 2-3: bits disagree (the reference sets both or neither)"))
    }

    @Test func fixedBitsThatDifferAreFlagged() {
        #expect(lines(0xFF, 2).last == "  warning: fixed bits 0, 7 differ: not a DLE EOT status byte?")
    }

    @Test func otherRequestsAreNotDecoded() {
        let text = EscPosStatus.describe(0x12, request: Array("STATUS".utf8))
        #expect(text == "0x12 (00010010)\n  (send DLE EOT 1, 2, 3 or 4 to have the bits named)")
    }
}
