/// Everything fleetcmd knows about one device family: its port, how requests and replies are framed, and what
/// happens on the connection before the first command (a greeting to read, a handshake to exchange, a login).
///
/// Presets are data: the built-ins below each cite the vendor manual they follow (docs/devices.md), and users add
/// their own in YAML (`fleetcmd presets`, `--presets FILE`).
public struct DevicePreset: Sendable, Hashable {
    /// What the device expects before the first command.
    public struct Session: Sendable, Hashable {
        /// Bytes the client sends first, and the reply it must get: a pattern of the reply's bytes, `nil` where any
        /// byte is accepted (Epson ESC/VP.net's 16-byte hello).
        public var handshake: [UInt8]?
        public var handshakeReply: [UInt8?]
        /// The device greets first with one frame of this framing (PJLink's `PJLINK 0` line).
        public var greeting: FrameSpec?
        /// The login the greeting may ask for.
        public var authentication: Authentication?

        public init(
            handshake: [UInt8]? = nil, handshakeReply: [UInt8?] = [], greeting: FrameSpec? = nil,
            authentication: Authentication? = nil
        ) {
            self.handshake = handshake
            self.handshakeReply = handshakeReply
            self.greeting = greeting
            self.authentication = authentication
        }

        public var isEmpty: Bool { handshake == nil && greeting == nil }
    }

    public enum Authentication: String, Sendable, Hashable, CaseIterable {
        /// PJLink class 1: `PJLINK 1 RANDOM` in the greeting; the first command is prefixed with
        /// MD5(RANDOM + password) in lowercase hex.
        case pjlink
        /// Epson ESC/VP.net: CONNECT (``EscVpNet``) with the password in a Password header when one is given; the
        /// reply's status says whether the projector took the session.
        case escvpnet
    }

    /// How text output shows a reply.
    public enum ReplyDecoder: String, Sendable, Hashable, CaseIterable {
        /// One ESC/POS real-time status byte (`DLE EOT n`), shown bit by bit.
        case escposStatus = "escpos-status"
    }

    /// When the client shuts down its sending side (TCP FIN) after writing its commands: the one half-close type
    /// of presets, the client (`DeviceClient.HalfClosePolicy`) and the `--half-close` option.
    ///
    /// The seed article half-closes after sending, and some devices wait for that FIN before answering. Other
    /// devices drop their reply when they see a FIN. `auto` half-closes when exactly one command is sent (the
    /// article's case) and keeps the connection open for several pipelined commands.
    public enum HalfClose: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        case auto, always, never

        /// Parses `auto`, `always` or `never`, in any case.
        public init?(name: String) { self.init(rawValue: name.lowercased()) }

        /// Whether to half-close after the last of `commandCount` commands.
        public func halfClosesAfterLast(of commandCount: Int) -> Bool {
            switch self {
            case .auto: commandCount == 1
            case .always: true
            case .never: false
            }
        }

        public var description: String { rawValue }
    }

    public var name: String
    public var summary: String
    public var defaultPort: Int
    public var format: FrameFormat
    public var halfClose: HalfClose
    /// Connections one device accepts at a time (the runner never opens more to one address). `nil`: no limit known.
    public var maxConnectionsPerDevice: Int?
    public var session: Session
    public var decoder: ReplyDecoder?
    /// Where the framing comes from (the vendor manual).
    public var source: String

    public init(
        name: String, summary: String, defaultPort: Int = 9100, format: FrameFormat, halfClose: HalfClose = .auto,
        maxConnectionsPerDevice: Int? = nil, session: Session = Session(), decoder: ReplyDecoder? = nil,
        source: String = ""
    ) {
        self.name = name
        self.summary = summary
        self.defaultPort = defaultPort
        self.format = format
        self.halfClose = halfClose
        self.maxConnectionsPerDevice = maxConnectionsPerDevice
        self.session = session
        self.decoder = decoder
        self.source = source
    }
}

extension DevicePreset {
    private static let esc: UInt8 = 0x1B
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A

    /// The device families fleetcmd ships, then the generic framings.
    public static let builtins: [DevicePreset] =
        [
            DevicePreset(
                name: "esc-cr", summary: "the article's devices: ESC + command + CR, reply up to NUL",
                format: .escCR, halfClose: .auto, source: "the originating article's script"),
            DevicePreset(
                name: "hp-pjl",
                summary: "HP PJL on 9100: UEL + @PJL command + LF, reply ends with form feed; one connection at a time",
                format: FrameFormat(
                    name: "hp-pjl",
                    request: .delimited(prefix: Array("\u{1B}%-12345X".utf8), terminator: [lf]),
                    reply: .delimited(terminator: [0x0C])),
                halfClose: .never, maxConnectionsPerDevice: 1,
                source: "HP PJL Technical Reference Manual, ch. 2 (UEL) and ch. 7 (INFO/ECHO replies end with FF)"),
            DevicePreset(
                name: "zebra-hs",
                summary: "Zebra ZPL host status (~HS): three STX…ETX CR LF blocks; silence in some error states",
                format: FrameFormat(
                    name: "zebra-hs", request: .untilClose,
                    reply: .delimited(terminator: [0x03, cr, lf], count: 3)),
                halfClose: .never,
                source: "Zebra ZPL II Programming Guide, ~HS (Host Status Return): three strings, each STX … ETX CR LF"),
            DevicePreset(
                name: "escpos-status",
                summary: "ESC/POS real-time status (DLE EOT n): a one-byte reply, decoded bit by bit",
                format: FrameFormat(name: "escpos-status", request: .untilClose, reply: .fixedLength(1)),
                halfClose: .never, decoder: .escposStatus,
                source: "Epson ESC/POS Command Reference, DLE EOT n (transmit real-time status), n = 1…4"),
            DevicePreset(
                name: "extron-sis",
                summary: "Extron SIS over Telnet: Esc-prefixed commands ending CR, replies ending CR LF",
                defaultPort: 23,
                format: FrameFormat(
                    name: "extron-sis", request: .delimited(prefix: [esc], terminator: [cr]),
                    reply: .delimited(terminator: [cr, lf])),
                halfClose: .never,
                source: "Extron SIS (Simple Instruction Set) programmer's guides: commands end CR, responses end CR LF"),
            DevicePreset(
                name: "epson-escvp21",
                summary: "Epson ESC/VP21 over ESC/VP.net: 16-byte handshake, commands end CR, answers end with ':'",
                defaultPort: 3629,
                format: FrameFormat(
                    name: "epson-escvp21", request: .delimited(terminator: [cr]), reply: .delimited(terminator: [0x3A])),
                halfClose: .never, maxConnectionsPerDevice: 1,
                session: Session(handshake: EscVpNet.connect(password: nil), authentication: .escvpnet),
                source:
                    "Epson ESC/VP.net Protocol specification (TCP 3629, CONNECT with a Password header, status 0x20 OK); ESC/VP21 command reference"
            ),
            DevicePreset(
                name: "kramer-p3000",
                summary: "Kramer Protocol 3000: #CMD params CR, replies ~… CR LF",
                defaultPort: 5000,
                format: FrameFormat(
                    name: "kramer-p3000", request: .delimited(prefix: [0x23], terminator: [cr]),
                    reply: .delimited(prefix: [0x7E], terminator: [cr, lf])),
                halfClose: .never,
                source: "Kramer Protocol 3000 user guide: commands '#' … CR, replies '~' … CR LF"),
            DevicePreset(
                name: "pjlink",
                summary: "PJLink class 1 projectors: greeting line, %1CMD params CR, replies CR; MD5 login when asked",
                defaultPort: 4352,
                format: FrameFormat(
                    name: "pjlink", request: .delimited(terminator: [cr]), reply: .delimited(terminator: [cr])),
                halfClose: .never, maxConnectionsPerDevice: 1,
                session: Session(greeting: .delimited(terminator: [cr]), authentication: .pjlink),
                source:
                    "JBMIA PJLink Specifications, class 1 (TCP 4352, 'PJLINK 0'/'PJLINK 1 random' greeting, MD5 digest)"
            ),
        ] + genericFramings

    /// The plain framings (`line`, `crlf`, …) as presets on port 9100.
    static let genericFramings: [DevicePreset] = [
        (FrameFormat.line, "lines ending LF both ways"), (.crlf, "commands end CR LF, replies LF"),
        (.cr, "CR-terminated both ways"), (.raw, "bytes as given; a reply ends at close or silence"),
        (.length16, "2-byte big-endian length prefix"), (.length32, "4-byte big-endian length prefix"),
    ].map { DevicePreset(name: $0.0.name, summary: $0.1, format: $0.0, source: "generic framing") }

    /// A built-in preset by name (also `fixed:N`, and the framing aliases `FrameFormat.preset(named:)` accepts).
    public static func builtin(named name: String) -> DevicePreset? {
        if let preset = builtins.first(where: { $0.name == name.lowercased() }) { return preset }
        guard let format = try? FrameFormat.preset(named: name) else { return nil }
        return builtins.first(where: { $0.name == format.name })
            ?? DevicePreset(
                name: format.name, summary: "raw requests, replies of a fixed length", format: format,
                halfClose: .never, source: "generic framing")
    }
}
