import ArgumentParser
import FleetClient
import FleetFraming
import Foundation
import UnixSignals

/// `fleetcmd watch HOST[:PORT]`: connect and print every frame the device sends unasked, with time stamps (what
/// people use `socat -u TCP:host:port -` for), framed by the device's preset and after its session.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Connect and print every frame the device sends unasked (events), with time stamps.",
        discussion: """
            Opens one connection (TLS and the preset's session first, as send does), sends nothing, and prints each \
            frame the device pushes as it completes: `TIME #N TEXT` (escaped as send shows replies), or with -o jsonl \
            one object per frame as it comes (`time`, `device`, `frame`, `text` (exact, JSON-escaped), `hex`; -o \
            json: one document of them at the end). Ends when the device closes the connection (exit 0), after \
            --count frames, or on Ctrl-C/SIGTERM (exit 0); a connection that fails exits as send does.
            """)

    @Argument(help: ArgumentHelp("The device.", valueName: "host[:port]"))
    var device: String

    @OptionGroup var client: ClientOptions
    @OptionGroup var session: SessionDisplayOptions

    @Option(
        name: .shortAndLong,
        help:
            "Output: text, hex, json (one document, an array, at the end) or jsonl (one object per frame as it comes).")
    var output = OutputFormat.text

    @Option(help: ArgumentHelp("Stop after this many frames.", valueName: "n"))
    var count: Int?

    struct Record: Encodable {
        var time: String
        var device: String
        var frame: Int
        var text: String
        var hex: String
    }

    func validate() throws {
        do { _ = try DeviceAddress(parsing: device) } catch { throw ValidationError("\(error)") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() async throws {
        let preset = try client.framing.devicePreset()
        let address = try DeviceAddress(parsing: device, defaultPort: preset.defaultPort)
        var configuration = try client.settings.configuration(for: preset)
        configuration.halfClose = .never  // a watcher keeps its side open: some devices stop at a FIN
        let (events, continuation) = AsyncStream.makeStream(of: DeviceConnection.Event.self)
        let connection: DeviceConnection
        do {
            connection = try await DeviceConnection.open(
                address, configuration: configuration, events: { continuation.yield($0) })
        } catch let error as DeviceError {
            Console.error(error.description)
            throw ExitStatus.exit(for: error.code)
        }
        session.showGreeting(connection.greeting, device: connection.device)
        Console.error("watching \(connection.device) (\(preset.name)); Ctrl-C to stop")
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let stop = Task {
            for await _ in signals {
                continuation.finish()
                return
            }
        }
        defer { stop.cancel() }
        var frames = 0
        let records = JSONRecords(output)
        defer { records.finish() }
        for await event in events {
            switch event {
            case .unsolicited(let reply):
                frames += 1
                show(reply, number: frames, device: connection.device, records: records)
                if let count, frames >= count {
                    continuation.finish()
                }
            case .closed(let error):
                continuation.finish()
                if error.code == .closedEarly {
                    Console.error("device \(connection.device) closed the connection after \(frames) frames")
                } else {
                    Console.error(error.description)
                    throw ExitStatus.exit(for: error.code)
                }
            }
        }
        await connection.close()
    }

    private func show(_ reply: Reply, number: Int, device: String, records: JSONRecords) {
        let time = Render.timestamp()
        switch output {
        case .text:
            Console.out("\(time) #\(number) \(Render.text(Array(reply.trimmed)))")
        case .hex:
            Console.out("\(time) #\(number) (\(reply.payload.count) bytes)")
            if !reply.payload.isEmpty { Console.out(ByteEscapes.hexdump(reply.payload)) }
        case .json, .jsonl:
            records.emit(
                Record(
                    time: time, device: device, frame: number,
                    text: String(decoding: reply.trimmed, as: UTF8.self), hex: ByteEscapes.hex(reply.trimmed)))
        }
    }
}
