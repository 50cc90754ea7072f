import Foundation
import Testing

@testable import FleetCLI

/// Run ids are made without a calendar: the same text `DateFormatter` makes, in UTC.
@Suite struct RunIDTests {
    @Test func aRunIDIsTheUTCTimeAndFourHexDigits() {
        let stamp = Array("2026-11-25T16:27:19.123Z".utf8)
        #expect(StateDirectory.newRunID(timestamp: stamp, random: 0x3FA2) == "20261125-162719-3fa2")
        #expect(StateDirectory.newRunID(timestamp: stamp, random: 0x000A) == "20261125-162719-000a")
        #expect(StateDirectory.newRunID(timestamp: stamp, random: 0) == "20261125-162719-0000")
    }

    @Test(arguments: [Int64(0), 951_782_400_000, 1_709_164_799_999, 1_795_996_800_500, 4_102_444_799_000])
    func theIDsTimeIsWhatADateFormatterWrites(milliseconds: Int64) {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let id = StateDirectory.newRunID(
            timestamp: FleetLogHandler.timestampBytes(millisecondsSince1970: milliseconds), random: 0xBEEF)
        #expect(id == formatter.string(from: date) + "-beef")
    }

    @Test func aNewIDHasTheShape() throws {
        let id = StateDirectory.newRunID()
        #expect(try Regex("^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$").wholeMatch(in: id) != nil)
    }
}
