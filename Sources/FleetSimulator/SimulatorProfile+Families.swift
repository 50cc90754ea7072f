public import FleetAgent
public import FleetFraming

extension SimulatorProfile {
    /// A profile whose devices behave like the device family of `preset`, as its manual describes: its framing,
    /// its session (greeting, handshake, login) and a few commands with realistic replies. `nil` when fleetcmd has
    /// no simulation for the family (the generic framings get the default command table with their framing).
    ///
    /// - Parameters:
    ///   - password: PJLink devices ask for this password (MD5 login), Epson ESC/VP.net projectors require it in
    ///     the CONNECT; `nil`: no password.
    ///   - refusesHandshake: Epson devices refuse the ESC/VP.net handshake (a locked or busy projector).
    public static func family(
        _ preset: DevicePreset, password: String? = nil, refusesHandshake: Bool = false
    ) -> SimulatorProfile? {
        var profile = SimulatorProfile()
        profile.configuration.format = preset.format
        profile.configuration.session =
            familySession(preset, password: password, refusesHandshake: refusesHandshake) ?? AgentSession()
        var router = defaultRouter
        switch preset.name {
        case "esc-cr", "line", "crlf", "cr", "raw", "length16", "length32":
            return profile
        case "hp-pjl":
            // Only the readback commands answer (PJL Technical Reference, "Status Readback Commands"); SET,
            // ENTER, COMMENT, JOB and the rest are taken without a word.
            profile.configuration.unknownCommandReply = .silent
            router = CommandRouter()
            router.on(
                "@PJL INFO STATUS", reply: "@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY=\"Ready\"\r\nONLINE=TRUE\r\n")
            router.on("@PJL INFO ID", reply: "@PJL INFO ID\r\n\"HP LaserJet {device}\"\r\n")
            router.on(prefix: "@PJL ECHO", reply: "{0}\r\n")
            router.on(prefix: "@PJL INQUIRE", reply: "{0}\r\n1\r\n")
            router.on(prefix: "@PJL DINQUIRE", reply: "{0}\r\n1\r\n")
            router.on(
                prefix: "@PJL USTATUS",
                reply: "@PJL USTATUS DEVICE\r\nCODE=10001\r\nDISPLAY=\"Ready\"\r\nONLINE=TRUE\r\n")
            // One connection at a time, as the printers: a second one is closed at once.
            profile.faults.append(FaultRule(fault: .singleSession, rate: 1))
        case "zebra-hs":
            profile.configuration.format.request = deviceRequestFraming(preset) ?? preset.format.request
            router.on(
                "~HS",
                reply:
                    "\u{2}030,0,0,1245,000,0,0,0,000,0,0,0\u{3}\r\n\u{2}000,0,0,0,0,2,4,0,00000000,1,000\u{3}\r\n\u{2}1234,0\u{3}"
            )
        case "escpos-status":
            profile.configuration.format.request = deviceRequestFraming(preset) ?? preset.format.request
            profile.configuration.matchesBinaryCommandsAsHex = true
            router = CommandRouter()
            router.on("100401", reply: "\u{12}")  // online
            router.on("100402", reply: "\u{12}")  // cover closed, no error
            router.on("100403", reply: "\u{12}")  // no error
            router.on("100404", reply: "\u{1E}")  // roll paper near end
        case "extron-sis":
            // Basic SIS commands as the programmer's guides list them, and Esc CN (the unit's name).
            router = CommandRouter()
            router.on("Q", reply: "1.23")
            router.on("N", reply: "60-1234-01")
            router.on("I", reply: "V1 A1 T1")
            profile.configuration.matchesBinaryCommandsAsHex = true  // Esc commands carry their ESC
            router.on("1b434e", reply: "{device}")  // Esc CN: the unit's name
            for input in 1...8 { router.on("\(input)!", reply: "In\(input) All") }
            profile.configuration.unknownCommandReply = .text("E10")  // SIS: invalid command
        case "epson-escvp21":
            router.on("PWR?", reply: "PWR=01\r")
            router.on("LAMP?", reply: "LAMP=1234\r")
            router.on("SOURCE?", reply: "SOURCE=30\r")
        case "kramer-p3000":
            router.on("MODEL?", reply: "01@MODEL VS-88HDCPxl")
            router.on("VID? 1", reply: "01@VID 1>1")
            router.on(prefix: "VID", reply: "01@VID {1}")
        case "pjlink":
            router.on("%1POWR ?", reply: "%1POWR=1")
            router.on("%1INPT ?", reply: "%1INPT=31")
            router.on("%1NAME ?", reply: "%1NAME={device}")
            router.on("%1LAMP ?", reply: "%1LAMP=1234 1")
            router.on("%1CLSS ?", reply: "%1CLSS=1")
        default:
            return nil
        }
        profile.router = router
        return profile
    }

    /// What a device of `preset`'s family does before it takes commands, as the simulator plays it: PJLink's
    /// greeting (and login with a password), the ESC/VP.net CONNECT, an Extron unit's copyright and date lines,
    /// HP PJL's UEL job markers. `nil` when the family has no session. `fleetcmd listen --preset` speaks the same.
    public static func familySession(
        _ preset: DevicePreset, password: String? = nil, refusesHandshake: Bool = false
    ) -> AgentSession? {
        switch preset.name {
        case "hp-pjl":
            return AgentSession(jobMarker: preset.session.jobStart)
        case "extron-sis":
            return AgentSession(greeting: Array(extronBanner.utf8))
        case "epson-escvp21":
            return AgentSession(refusesHandshake: refusesHandshake, isEscVpNet: true, escvpnetPassword: password)
        case "pjlink":
            return password.map { AgentSession(pjlinkPassword: $0) } ?? AgentSession(greeting: Array("PJLINK 0\r".utf8))
        default:
            return nil
        }
    }

    /// What an Extron unit sends on a new Ethernet connection: the copyright message, then the date line.
    static let extronBanner =
        "(c) Copyright 2026, Extron Electronics, SIM 1000, V1.23, 60-1234-01\r\nWed, 02 Dec 2026 08:00:00\r\n"

    /// How a device of `preset`'s family finds its requests when the client's framing adds nothing to find them
    /// by: ZPL's `~HS` and ESC/POS's `DLE EOT n` are three bytes, read without a terminator. `nil`: the preset's
    /// own request framing. The simulator and `fleetcmd listen --preset` decode with it.
    public static func deviceRequestFraming(_ preset: DevicePreset) -> FrameSpec? {
        switch preset.name {
        case "zebra-hs", "escpos-status": .fixedLength(3)
        default: nil
        }
    }
}
