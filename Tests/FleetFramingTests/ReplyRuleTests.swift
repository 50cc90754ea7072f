import FleetFraming
import Testing

@Suite struct ReplyRuleTests {
    private let pjl = DevicePreset.builtin(named: "hp-pjl")!.replies

    @Test func pjlReadbacksGetRepliesAndEverythingElseNone() {
        for command in ["@PJL INFO ID", "@pjl info status", "@PJL  ECHO hello", "@PJL INQUIRE COPIES", "@PJL USTATUS"] {
            #expect(pjl.expectsReply(Array(command.utf8)), "\(command)")
        }
        for command in ["@PJL SET COPIES=2", "@PJL ENTER LANGUAGE=PCL", "@PJL", "@PJL USTATUSOFF", "@PJL INFOX"] {
            #expect(!pjl.expectsReply(Array(command.utf8)), "\(command)")
        }
    }

    @Test func exceptionsNameCommandsByTheirFirstWords() {
        let rule = DevicePreset.ReplyRule.except(["SET", "reset now"])
        #expect(!rule.expectsReply(Array("set=3".utf8)))
        #expect(!rule.expectsReply(Array("RESET NOW please".utf8)))
        #expect(rule.expectsReply(Array("RESET".utf8)))
        #expect(rule.expectsReply(Array("SETTINGS".utf8)))
        #expect(DevicePreset.ReplyRule.always.isAlways)
        #expect(rule.summary == "all but SET, RESET NOW")
    }
}
