import Testing

@testable import FleetCLI

@Suite struct HostListTests {
    @Test func foldsRunsKeepingPaddingAndOrder() {
        #expect(HostList.fold(["dev001", "dev002", "dev003", "dev007"]) == "dev[001-003,007]")
        #expect(HostList.fold(["dev003", "dev001", "dev002"]) == "dev[001-003]")
        #expect(HostList.fold(["web1"]) == "web1")
        #expect(HostList.fold(["r1-sw2", "r1-sw3", "r2-sw2"]) == "r1-sw[2-3],r2-sw2")
        #expect(HostList.fold(["a9", "a10", "a11"]) == "a9,a[10-11]")
        #expect(HostList.fold(["printer", "dev01", "dev02"]) == "dev[01-02],printer")
        // the last number differs not
        #expect(HostList.fold(["10.0.0.1:9100", "10.0.0.2:9100"]) == "10.0.0.1:9100,10.0.0.2:9100")
        #expect(HostList.fold([]) == "")
    }
}
