import FleetTestSupport
import Foundation
import Testing

/// A listener that cannot open is named, with the system's or the resolver's reason: never a library's type dump.
@Suite struct ListenerErrorTests {
    private func lines(_ text: String) -> [Substring] { text.split(separator: "\n") }

    @Test func aPortInUseIsNamedWithTheSystemsReason() async throws {
        let busy = try BlackHoleListener()  // listening: the port is taken
        let port = busy.port
        let agent = try await FleetcmdProcess.run(["agent", "--bind", "127.0.0.1", "--port", "\(port)"], timeout: 30)
        #expect(agent.status == 1)
        #expect(
            lines(agent.stderr).contains(
                "fleetcmd: agent failed: cannot listen on 127.0.0.1:\(port): address already in use"))
        let simulate = try await FleetcmdProcess.run(
            ["simulate", "--devices", "1", "--addresses", "127.0.0.0/30", "--port", "\(port)"], timeout: 30)
        #expect(simulate.status == 1)
        #expect(
            lines(simulate.stderr).contains(
                "fleetcmd: simulate failed: cannot listen on 127.0.0.1:\(port): address already in use"))
        let listen = try await FleetcmdProcess.run(["listen", "--bind", "127.0.0.1", "--port", "\(port)"], timeout: 30)
        #expect(lines(listen.stderr).contains("fleetcmd: cannot listen on 127.0.0.1:\(port): address already in use"))
    }

    @Test func aNameThatDoesNotResolveIsToldInTheResolversWords() async throws {
        for arguments in [
            ["agent", "--bind", "no-such-host.invalid", "--port", "7391"],
            ["listen", "--bind", "no-such-host.invalid", "--port", "7391"],
            ["agent", "--bind", "127.0.0.1", "--port", "0", "--metrics", "no-such-host.invalid:7392"],
        ] {
            let result = try await FleetcmdProcess.run(arguments, timeout: 30)
            #expect(result.status != 0, "\(arguments)")
            #expect(result.stderr.contains("cannot resolve host 'no-such-host.invalid': "), "\(arguments)")
            #expect(!result.stderr.contains("SocketAddressError"), "\(arguments)")
            #expect(!result.stderr.contains("(error -"), "\(arguments)")
        }
    }
}
