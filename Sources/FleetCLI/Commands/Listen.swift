import ArgumentParser
import FleetAgent
import FleetCodec
import FleetFraming
import FleetSimulator
import NIOCore
import UnixSignals

/// `fleetcmd listen`: the `nc -vlp 9100` job, made framing-aware.
struct Listen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract: "Accept connections and print every frame received (for debugging what a controller sends).",
        discussion: """
            Frames are printed on stdout with their time, peer and connection number; connections opening and \
            closing are reported on stderr, as `nc -v` does. With --reply, each frame is answered with that text \
            framed as a reply (for esc-cr: followed by NUL), in one write. Stops on Ctrl-C, or after the first \
            connection with --once. Use --port 0 to pick a free port (it is printed on stderr). With a --preset \
            whose device speaks first or expects a handshake (pjlink, epson-escvp21), the listener does so too.
            """
    )

    @Option(name: .shortAndLong, help: "Port to listen on.")
    var port = 9100

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp("Address to bind (default: all IPv4 interfaces, as nc).", valueName: "address"))
    var bind = "0.0.0.0"

    @OptionGroup(title: "Framing") var framing: FramingOptions

    @Option(
        help: ArgumentHelp("Answer each frame with this text (escapes or hex:), framed as a reply.", valueName: "text"))
    var reply: String?

    @Option(
        help: ArgumentHelp(
            "With --preset pjlink: greet with PJLINK 1 and require this password's MD5 login; with epson-escvp21: "
                + "require it in the ESC/VP.net CONNECT.", valueName: "text"))
    var password: String?

    @Flag(help: "Exit after the first connection closes.")
    var once = false

    @Option(help: ArgumentHelp("Largest request frame accepted.", valueName: "size"))
    var maxFrame = ByteCountArgument(1 << 20)

    @Option(
        name: .shortAndLong,
        help: "Output: text, hex, json (one document, an array, at exit) or jsonl (one object per frame as it comes).")
    var output = OutputFormat.text

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        if let reply { do { _ = try ByteEscapes.parse(reply) } catch { throw ValidationError("--reply: \(error)") } }
    }

    struct Record: Encodable {
        var time: String
        var peer: String
        var connection: Int
        var frame: Int
        var bytes: Int
        var text: String
        var hex: String
        var skipped: Int
    }

    func run() async throws {
        let preset = try framing.devicePreset()
        var format = try framing.format(for: preset)
        if framing.suffix == nil, framing.prefix == nil, let request = SimulatorProfile.deviceRequestFraming(preset) {
            format.request = request  // read as the device reads (`~HS`, `DLE EOT n`: three bytes each)
        }
        // A listener stands in for the device: it speaks the family's session (greeting, handshake) first.
        let session = SimulatorProfile.familySession(preset, password: password)
        let replyBytes = try reply.map(ByteEscapes.parse)
        let output = self.output
        let records = JSONRecords(output)
        let once = self.once
        let (closedStream, closedContinuation) = AsyncStream.makeStream(of: Void.self)
        let server: FrameServer
        do {
            server = try await FrameServer.start(
                host: bind, port: port, format: format, maxFrameBytes: maxFrame.value, session: session,
                respond: { _ in replyBytes },
                onEvent: { event in
                    Self.report(event, output: output, records: records)
                    if once, case .closed = event.kind { closedContinuation.yield() }
                }
            )
        } catch {
            Console.error("cannot listen on \(bind):\(port): \(ErrorText.describe(error))")
            throw ExitCode(ExitStatus.failure)
        }
        Console.error("listening on \(SocketAddressText.describe(server.boundAddress)) (\(format.name))")
        // SIGINT or SIGTERM ends listening as --once's first close does: with -o json the document still comes out.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let stop = Task {
            for await _ in signals {
                closedContinuation.yield()
                return
            }
        }
        for await _ in closedStream { break }
        await server.close()
        stop.cancel()
        records.finish()
    }

    static func report(_ event: FrameServer.Event, output: OutputFormat, records: JSONRecords) {
        switch event.kind {
        case .opened:
            Console.error("connection \(event.connection) from \(event.peer)")
        case .frame(let payload, let skipped, let number):
            let time = Render.timestamp()
            if skipped > 0 {
                Console.error("connection \(event.connection): discarded \(skipped) bytes outside a frame")
            }
            switch output {
            case .text:
                Console.out("\(time) \(event.peer) #\(event.connection).\(number) \(Render.text(payload))")
            case .hex:
                Console.out("\(time) \(event.peer) #\(event.connection).\(number) (\(payload.count) bytes)")
                if !payload.isEmpty { Console.out(ByteEscapes.hexdump(payload)) }
            case .json, .jsonl:
                records.emit(
                    Record(
                        time: time, peer: event.peer, connection: event.connection, frame: number,
                        bytes: payload.count,
                        text: String(decoding: payload, as: UTF8.self), hex: ByteEscapes.hex(payload),
                        skipped: skipped
                    ))
            }
        case .discarded(let bytes):
            Console.error("connection \(event.connection): discarded \(bytes) bytes outside a frame")
        case .jobMarker(let marker):
            Console.error(
                "connection \(event.connection): job boundary \(ByteEscapes.render(marker)) (\(marker.count) bytes)")
        case .error(let message):
            Console.error("connection \(event.connection) from \(event.peer): \(message)")
        case .closed(let frames):
            Console.error(
                "connection \(event.connection) from \(event.peer) closed after \(frames) \(frames == 1 ? "frame" : "frames")"
            )
        }
    }
}
