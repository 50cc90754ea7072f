import FleetAgent
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
        var router = defaultRouter
        switch preset.name {
        case "esc-cr", "line", "crlf", "cr", "raw", "length16", "length32":
            return profile
        case "hp-pjl":
            router.on(
                "@PJL INFO STATUS", reply: "@PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY=\"Ready\"\r\nONLINE=TRUE\r\n")
            router.on("@PJL INFO ID", reply: "@PJL INFO ID\r\n\"HP LaserJet {device}\"\r\n")
            router.on(prefix: "@PJL ECHO", reply: "{0}\r\n")
            // One connection at a time, as the printers: a second one is closed at once.
            profile.faults.append(FaultRule(fault: .singleSession, rate: 1))
        case "zebra-hs":
            // ZPL tilde commands are three bytes (~HS); the printer parses them without a terminator.
            profile.configuration.format = FrameFormat(
                name: "zebra-hs", request: .fixedLength(3), reply: preset.format.reply)
            router.on(
                "~HS",
                reply:
                    "\u{2}030,0,0,1245,000,0,0,0,000,0,0,0\u{3}\r\n\u{2}000,0,0,0,0,2,4,0,00000000,1,000\u{3}\r\n\u{2}1234,0\u{3}"
            )
        case "escpos-status":
            profile.configuration.format = FrameFormat(
                name: "escpos-status", request: .fixedLength(3), reply: .fixedLength(1))
            profile.configuration.matchesBinaryCommandsAsHex = true
            router = CommandRouter()
            router.on("100401", reply: "\u{12}")  // online
            router.on("100402", reply: "\u{12}")  // cover closed, no error
            router.on("100403", reply: "\u{12}")  // no error
            router.on("100404", reply: "\u{1E}")  // roll paper near end
        case "extron-sis":
            router.on("Q", reply: "1.23")
            router.on("N", reply: "60-1234-01")
            router.on("I", reply: "V1 A1 T1")
        case "epson-escvp21":
            profile.configuration.session = AgentSession(
                refusesHandshake: refusesHandshake, isEscVpNet: true, escvpnetPassword: password)
            router.on("PWR?", reply: "PWR=01\r")
            router.on("LAMP?", reply: "LAMP=1234\r")
            router.on("SOURCE?", reply: "SOURCE=30\r")
        case "kramer-p3000":
            router.on("MODEL?", reply: "01@MODEL VS-88HDCPxl")
            router.on("VID? 1", reply: "01@VID 1>1")
            router.on(prefix: "VID", reply: "01@VID {1}")
        case "pjlink":
            profile.configuration.session =
                password.map { AgentSession(pjlinkPassword: $0) } ?? AgentSession(greeting: Array("PJLINK 0\r".utf8))
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
}
