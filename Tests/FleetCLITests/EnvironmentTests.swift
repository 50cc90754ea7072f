import Foundation
import Testing

@testable import FleetCLI

/// Where fleetcmd looks, decided by the environment as shells and systemd decide it.
@Suite struct EnvironmentTests {
    /// Read once from `environ`: the same variables Foundation reports.
    @Test func theEnvironmentIsWhatFoundationReads() {
        #expect(ProcessEnvironment.variables == ProcessInfo.processInfo.environment)
        #expect(ProcessEnvironment.variables["PATH"] != nil)
    }

    @Test func homeIsTheVariableBeforeThePasswordDatabase() {
        #expect(HomeDirectory.path(["HOME": "/tmp/someone"]) == "/tmp/someone")
        #expect(HomeDirectory.path(["HOME": ""]) == NSHomeDirectory())
        #expect(
            UserConfig.defaultPath(environment: ["HOME": "/tmp/someone"]) == "/tmp/someone/.config/fleetcmd/config.yaml"
        )
    }

    @Test func journalStreamCountsOnlyWhenItNamesStandardError() throws {
        #expect(JournalStream.parse("8:1234")! == (8, 1234))
        for bad in ["", "8", "8:", ":9", "a:b", "8:9:10", "-1:2"] { #expect(JournalStream.parse(bad) == nil, "\(bad)") }
        var status = stat()
        #expect(fstat(STDERR_FILENO, &status) == 0)
        #expect(JournalStream.isStandardError(["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"]))
        #expect(!JournalStream.isStandardError(["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino + 1)"]))
        #expect(!JournalStream.isStandardError([:]))
    }

    @Test func theRunsTableAlignsEveryColumn() {
        let lines = Runs.table([
            ["RUN", "DEVICES", "OK", "COMMANDS"], ["r1", "120", "118", "SET mode eco"], ["r22", "2", "0", "X"],
        ])
        #expect(
            lines == [
                "RUN  DEVICES   OK  COMMANDS",
                "r1       120  118  SET mode eco",
                "r22        2    0  X",
            ])
    }
}
