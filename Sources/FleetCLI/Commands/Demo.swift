import ArgumentParser
import FleetClient
import FleetFraming
import NIOCore

/// `fleetcmd demo`: shows fleetcmd working with no hardware, on loopback.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a short demonstration against a built-in device on loopback (no hardware needed).",
        discussion: """
            Starts a device on 127.0.0.1 that speaks the seed article's framing (ESC + command + CR, replies \
            ending in NUL), talks to it the way `fleetcmd send` does, shows what a failure looks like, and prints \
            commands to try next.
            """
    )

    /// The built-in demo device's command table.
    static func answer(_ command: [UInt8]) -> [UInt8] {
        let text = String(decoding: command, as: UTF8.self)
        switch text {
        case "PING": return Array("PONG".utf8)
        case "STATUS": return Array("OK ready".utf8)
        case "VERSION": return Array("fleetcmd-demo 0.1.0".utf8)
        case let echo where echo.hasPrefix("ECHO "): return Array(echo.dropFirst(5).utf8)
        default: return Array("ERR unknown command".utf8)
        }
    }

    func run() async throws {
        let server = try await FrameServer.start(
            host: "127.0.0.1", port: 0, format: .escCR, maxFrameBytes: 4096,
            respond: { Self.answer($0) }, onEvent: { _ in }
        )
        defer { Task { await server.close() } }
        let port = server.boundAddress.port!  // bound above
        let device = DeviceAddress(host: "127.0.0.1", port: port)
        let client = DeviceClient()

        Console.out("A device is listening on \(device) (esc-cr framing: ESC + command + CR, replies end at NUL).\n")
        for commands in [["PING"], ["STATUS", "VERSION", "ECHO hello fleet"], ["REBOOT"]] {
            Console.out(
                "$ fleetcmd send \(device) " + commands.map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
            )
            let exchange = await client.exchange(commands.map { Array($0.utf8) }, with: device)
            for reply in exchange.replies { Console.out(reply.text) }
            if let error = exchange.error { Console.out("fleetcmd: \(error)") }
            Console.out("")
        }
        let closed = try await FrameServer.start(
            host: "127.0.0.1", port: 0, format: .escCR, maxFrameBytes: 16, respond: { _ in nil }, onEvent: { _ in })
        let closedPort = closed.boundAddress.port!  // bound above
        await closed.close()
        let down = DeviceAddress(host: "127.0.0.1", port: closedPort)
        Console.out("$ fleetcmd send \(down) PING      # nothing listens there")
        let failed = await client.exchange([Array("PING".utf8)], with: down)
        Console.out(
            "fleetcmd: \(failed.error.map(\.description) ?? "unexpected success")   (exit code \(failed.error.map { ExitStatus.code(for: $0.code) } ?? 0))\n"
        )

        await server.close()
        Console.out(
            """
            Try next:
              fleetcmd listen --port 9100 --reply PONG          # a framing-aware nc -l
              fleetcmd send 127.0.0.1:9100 PING                 # in another terminal
              fleetcmd send 127.0.0.1:9100 PING -o hex          # the reply as a hexdump
              fleetcmd send 127.0.0.1:9100 PING -o json         # one JSON object per reply
              fleetcmd probe 127.0.0.1:9100 127.0.0.1:9101      # nc -vz for many targets
            """)
    }
}
