import FleetCodec
import NIOCore
import Testing

@Suite struct SocketAddressTextTests {
    /// How the audit line and logs name a peer (IPv4 is written digit by digit, the rest by NIO's text).
    @Test func peersAreNamedByAddressAndPort() throws {
        #expect(SocketAddressText.describe(try SocketAddress(ipAddress: "10.0.0.7", port: 41000)) == "10.0.0.7:41000")
        #expect(SocketAddressText.describe(try SocketAddress(ipAddress: "0.0.0.0", port: 0)) == "0.0.0.0:0")
        #expect(
            SocketAddressText.describe(try SocketAddress(ipAddress: "255.255.255.255", port: 65535))
                == "255.255.255.255:65535")
        #expect(SocketAddressText.describe(try SocketAddress(ipAddress: "127.100.9.1", port: 9)) == "127.100.9.1:9")
        #expect(SocketAddressText.describe(try SocketAddress(ipAddress: "::1", port: 9100)) == "[::1]:9100")
        #expect(
            SocketAddressText.describe(try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 80))
                == "[::ffff:10.1.2.3]:80")
    }
}
