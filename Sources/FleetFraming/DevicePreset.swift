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
        /// When set, the greeting is the first frame and every further frame that arrives before the device has
        /// been quiet this long (an Extron unit's copyright line, then its date line). `nil`: exactly one frame.
        public var greetingQuiet: Duration?
        /// Bytes put before the first command (HP PJL's UEL, which opens a job).
        public var jobStart: [UInt8]
        /// Bytes written after the last command (HP PJL's closing UEL, which ends the job).
        public var jobEnd: [UInt8]

        public init(
            handshake: [UInt8]? = nil, handshakeReply: [UInt8?] = [], greeting: FrameSpec? = nil,
            authentication: Authentication? = nil, greetingQuiet: Duration? = nil, jobStart: [UInt8] = [],
            jobEnd: [UInt8] = []
        ) {
            self.handshake = handshake
            self.handshakeReply = handshakeReply
            self.greeting = greeting
            self.authentication = authentication
            self.greetingQuiet = greetingQuiet
            self.jobStart = jobStart
            self.jobEnd = jobEnd
        }

        public var isEmpty: Bool {
            handshake == nil && greeting == nil && authentication == nil && jobStart.isEmpty && jobEnd.isEmpty
        }
    }

    /// Which commands the device answers. Most devices answer every command; an HP printer answers only PJL's
    /// readback commands (`@PJL INFO`, `ECHO`, …) and takes `@PJL SET` or `@PJL ENTER` without a word.
    ///
    /// A command is named by its first words, compared without regard to case, with spaces and `=` separating
    /// words: `@PJL INFO` names `@pjl info id` but not `@PJL INFOX`.
    public struct ReplyRule: Sendable, Hashable {
        /// Whether a command that no entry of ``exceptions`` names gets a reply.
        public var byDefault: Bool
        /// Commands, by their first words, that get the opposite of ``byDefault``.
        public var exceptions: [[String]]

        public init(byDefault: Bool = true, exceptions: [[String]] = []) {
            self.byDefault = byDefault
            self.exceptions = exceptions.map { $0.map { $0.uppercased() } }
        }

        /// Every command gets a reply.
        public static let always = ReplyRule()

        /// Only the commands named by `names` (each a text of words, like `@PJL INFO`) get a reply.
        public static func only(_ names: [String]) -> ReplyRule {
            ReplyRule(byDefault: false, exceptions: names.map(words))
        }

        /// Every command except those named by `names` gets a reply.
        public static func except(_ names: [String]) -> ReplyRule {
            ReplyRule(byDefault: true, exceptions: names.map(words))
        }

        /// Whether every command gets a reply (nothing to look up per command).
        public var isAlways: Bool { byDefault && exceptions.isEmpty }

        /// Whether the device answers the command `payload`.
        public func expectsReply(_ payload: [UInt8]) -> Bool {
            guard !exceptions.isEmpty else { return byDefault }
            let commandWords = Self.words(String(decoding: payload, as: UTF8.self)).map { $0.uppercased() }
            let named = exceptions.contains { name in
                name.count <= commandWords.count && zip(name, commandWords).allSatisfy { $0.0 == $0.1 }
            }
            return named ? !byDefault : byDefault
        }

        /// The words of `text`: separated by ASCII whitespace and `=`.
        public static func words(_ text: String) -> [String] {
            text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" || $0 == "\r" || $0 == "\n" })
                .map(String.init)
        }

        /// The rule as text (`presets` shows it): `every command`, `only @PJL INFO, @PJL ECHO`, `all but …`.
        public var summary: String {
            guard !exceptions.isEmpty else { return byDefault ? "every command" : "no command" }
            let names = exceptions.map { $0.joined(separator: " ") }.joined(separator: ", ")
            return byDefault ? "all but \(names)" : "only \(names)"
        }
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
    /// Which commands get a reply (default: every one).
    public var replies: ReplyRule
    public var decoder: ReplyDecoder?
    /// Where the framing comes from (the vendor manual).
    public var source: String

    public init(
        name: String, summary: String, defaultPort: Int = 9100, format: FrameFormat, halfClose: HalfClose = .auto,
        maxConnectionsPerDevice: Int? = nil, session: Session = Session(), replies: ReplyRule = .always,
        decoder: ReplyDecoder? = nil, source: String = ""
    ) {
        self.name = name
        self.summary = summary
        self.defaultPort = defaultPort
        self.format = format
        self.halfClose = halfClose
        self.maxConnectionsPerDevice = maxConnectionsPerDevice
        self.session = session
        self.replies = replies
        self.decoder = decoder
        self.source = source
    }
}

extension DevicePreset {
    private static let esc: UInt8 = 0x1B
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A
    /// HP PJL's Universal Exit Language command, `ESC %-12345X`.
    public static let uel: [UInt8] = Array("\u{1B}%-12345X".utf8)

    /// The device families fleetcmd ships, then the generic framings.
    public static let builtins: [DevicePreset] =
        [
            DevicePreset(
                name: "esc-cr", summary: "the article's devices: ESC + command + CR, reply up to NUL",
                format: .escCR, halfClose: .auto, source: "the originating article's script"),
            DevicePreset(
                name: "hp-pjl",
                summary:
                    "HP PJL on 9100: a job of @PJL lines between UELs; readbacks (INFO, ECHO, …) answer, ending with FF",
                format: FrameFormat(
                    name: "hp-pjl", request: .delimited(terminator: [lf]), reply: .delimited(terminator: [0x0C])),
                halfClose: .never, maxConnectionsPerDevice: 1,
                session: Session(jobStart: uel, jobEnd: uel),
                replies: .only([
                    "@PJL INQUIRE", "@PJL DINQUIRE", "@PJL ECHO", "@PJL INFO", "@PJL USTATUS", "@PJL FSQUERY",
                    "@PJL FSDIRLIST", "@PJL FSUPLOAD",
                ]),
                source:
                    "HP PJL Technical Reference Manual: 'PJL Command Syntax and Format' (UEL, lines end [CR]LF), "
                    + "'Kernel Commands' (a job starts and ends with UEL), 'Status Readback Commands' (only readback "
                    + "commands answer; the answer ends with FF)"),
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
                summary:
                    "Extron SIS over Telnet: greets with a copyright line; Q, N, 1! sent plain, ESC commands end CR",
                defaultPort: 23,
                format: FrameFormat(name: "extron-sis", request: .sisCommand, reply: .delimited(terminator: [cr, lf])),
                halfClose: .never,
                session: Session(greeting: .delimited(terminator: [cr, lf]), greetingQuiet: .milliseconds(200)),
                source:
                    "Extron SIS programmer's guides, 'Host-to-device communications' (the copyright message, and on "
                    + "Ethernet the date line, sent on connection; symbols: E = Esc, } = CR, ] = CR LF; basic commands "
                    + "take no Esc and no CR)"),
            DevicePreset(
                name: "epson-escvp21",
                summary:
                    "Epson ESC/VP21 over ESC/VP.net: CONNECT (password when given), commands end CR, answers end with ':'",
                defaultPort: 3629,
                format: FrameFormat(
                    name: "epson-escvp21", request: .delimited(terminator: [cr]), reply: .delimited(terminator: [0x3A])),
                halfClose: .never, maxConnectionsPerDevice: 1,
                session: Session(authentication: .escvpnet),
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
