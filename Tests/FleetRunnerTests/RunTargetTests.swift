import FleetRunner
import Testing

/// A target's address is made once, and follows its host and port when they change.
@Suite struct RunTargetTests {
    @Test func theAddressFollowsTheHostAndPort() {
        var target = RunTarget(name: "door", host: "::1", port: 9100)
        #expect(target.address == "[::1]:9100")
        #expect(target.label == "door ([::1]:9100)")
        target.host = "10.0.0.7"
        #expect(target.address == "10.0.0.7:9100")
        target.port = 7000
        #expect(target.address == "10.0.0.7:7000")
        #expect(RunTarget(name: "10.0.0.7", host: "10.0.0.7", port: 1).label == "10.0.0.7:1")
    }
}
