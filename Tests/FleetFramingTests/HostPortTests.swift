import FleetFraming
import Testing

@Suite struct HostPortTests {
    /// The one rule for writing an address: brackets around an IPv6 literal, nothing else touched.
    @Test func ipv6LiteralsAndOnlyThoseGetBrackets() {
        #expect(HostPort.text("10.0.0.7", 9100) == "10.0.0.7:9100")
        #expect(HostPort.text("printer-3.lab", 9100) == "printer-3.lab:9100")
        #expect(HostPort.text("::1", 9100) == "[::1]:9100")
        #expect(HostPort.text("fe80::1%eth0", 1) == "[fe80::1%eth0]:1")
        #expect(HostPort.text("drucker-ü.lab", 0) == "drucker-ü.lab:0")
        #expect(HostPort.text("é\u{301}:x", 5) == "[é\u{301}:x]:5")  // a colon after a combining mark is still seen
    }
}
