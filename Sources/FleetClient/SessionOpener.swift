import FleetCodec
import FleetFraming
import NIOCore

/// What a device expects before its first command (a ``DevicePreset/Session``), as a value free of I/O: the
/// one-shot ``ExchangeHandler`` and the interactive ``DeviceConnection`` both drive it.
struct SessionOpener {
    enum Step: Equatable {
        /// Write these bytes (the handshake), then feed replies.
        case send([UInt8])
        /// Feed more bytes.
        case needMore
        /// The session is open; put `prefix` before the first command (a PJLink login digest).
        case open(prefix: [UInt8])
        /// The device refused the session (a ``DeviceError/Code/sessionRefused`` with this detail).
        case refused(String)
        /// The greeting may go on (``DevicePreset/Session/greetingQuiet``): feed what arrives, and call
        /// ``quietPassed()`` once the device has been quiet this long.
        case awaitQuiet(Duration)
    }

    enum Phase: Equatable { case idle, handshake, greeting, settling, open }

    private let session: DevicePreset.Session
    private let password: String?
    private(set) var phase = Phase.idle
    private var greetingScanner: FrameScanner?
    /// The greeting's frames (payloads), as received.
    private(set) var greeting: [[UInt8]] = []
    /// A bound on greeting frames (a device that never stops greeting is refused, not buffered).
    static let maxGreetingFrames = 16

    init(session: DevicePreset.Session, password: String?) {
        self.session = session
        self.password = password
    }

    /// The connection is up.
    mutating func start() -> Step {
        if session.authentication == .escvpnet {
            if let password, password.utf8.count > EscVpNet.maxPasswordBytes {
                return .refused("the ESC/VP.net password is longer than \(EscVpNet.maxPasswordBytes) bytes")
            }
            phase = .handshake
            return .send(EscVpNet.connect(password: password))
        }
        if let hello = session.handshake {
            phase = .handshake
            return .send(hello)
        }
        return startGreeting()
    }

    private mutating func startGreeting() -> Step {
        guard let greeting = session.greeting else {
            phase = .open
            return .open(prefix: [])
        }
        phase = .greeting
        greetingScanner = FrameScanner(spec: greeting, maxFrameBytes: 4096)
        return .needMore
    }

    /// Consumes session bytes from the front of `buffer`; what follows stays there for the replies.
    mutating func consume(_ buffer: inout ByteBuffer) -> Step {
        if phase == .handshake, session.authentication == .escvpnet {
            switch EscVpNet.parse(buffer.readableBytesView) {
            case .needMore:
                return .needMore
            case .invalid(let hex):
                return .refused("the device did not answer the ESC/VP.net handshake (reply \(hex))")
            case .packet(let reply):
                buffer.moveReaderIndex(forwardBy: reply.length)
                guard reply.status == EscVpNet.Status.ok.rawValue else {
                    var reason = EscVpNet.describe(status: reply.status)
                    if reply.status == EscVpNet.Status.unauthorized.rawValue, password == nil {
                        reason += " (give --password, or fleetcmd_password in the inventory)"
                    }
                    return .refused(reason)
                }
                let next = startGreeting()
                return next == .needMore ? consume(&buffer) : next
            }
        }
        if phase == .handshake {
            let pattern = session.handshakeReply
            guard buffer.readableBytes >= pattern.count, let reply = buffer.readBytes(length: pattern.count) else {
                return .needMore
            }
            guard zip(pattern, reply).allSatisfy({ $0.0 == nil || $0.0 == $0.1 }) else {
                return .refused("the handshake reply \(ByteEscapes.hex(reply)) is not the one expected")
            }
            let next = startGreeting()
            return next == .needMore ? consume(&buffer) : next
        }
        guard phase == .greeting || phase == .settling, var scanner = greetingScanner else { return .needMore }
        var heard = false
        while true {
            let scanned: ScannedFrame
            do {
                scanned = try buffer.readFrame(using: &scanner)
            } catch {
                return .refused("the greeting is longer than 4 KiB")
            }
            greetingScanner = scanner
            guard let payload = scanned.payload else { break }
            greeting.append(Array(payload.readableBytesView))
            guard greeting.count <= Self.maxGreetingFrames else {
                return .refused("the greeting goes on past \(Self.maxGreetingFrames) lines")
            }
            heard = true
            if phase == .greeting {
                guard session.greetingQuiet != nil else {
                    phase = .open
                    return greeted(String(decoding: payload.readableBytesView, as: UTF8.self))
                }
                phase = .settling
            }
        }
        guard phase == .settling, let quiet = session.greetingQuiet else { return .needMore }
        // A further line, or bytes of one: the device is still greeting.
        return heard || buffer.readableBytes > 0 ? .awaitQuiet(quiet) : .needMore
    }

    /// The device has been quiet for ``DevicePreset/Session/greetingQuiet`` after its greeting: the session is open.
    mutating func quietPassed() -> Step {
        guard phase == .settling else { return .needMore }
        phase = .open
        return greeted(String(decoding: greeting.first ?? [], as: UTF8.self))
    }

    private func greeted(_ text: String) -> Step {
        guard session.authentication == .pjlink else { return .open(prefix: []) }
        let words = text.split(separator: " ")
        switch (words.first, words.dropFirst().first) {
        case ("PJLINK", "0"):
            return .open(prefix: [])
        case ("PJLINK", "1"):
            guard words.count >= 3, let password else {
                return .refused(
                    "the device asks for a PJLink password (give --password, or fleetcmd_password in the inventory)")
            }
            return .open(prefix: PJLinkLogin.digest(random: String(words[2]), password: password))
        case ("PJLINK", "ERRA"):
            return .refused("PJLINK ERRA (the projector takes no connection now)")
        default:
            return .refused("unexpected greeting '\(ByteEscapes.render(Array(text.utf8)))'")
        }
    }

    /// Whether `payload`, the first reply, is the device refusing the login.
    func isLoginRefusal(_ payload: ByteBuffer) -> Bool {
        session.authentication == .pjlink && payload.readableBytesView.starts(with: Array("PJLINK ERRA".utf8))
    }

    static let loginRefused = "PJLink authentication failed (wrong password)"
}
