public import FleetClient
public import FleetFraming
public import FleetTLS

/// What happened to one device in a run, in the taxonomy operators filter on.
public enum Outcome: String, Sendable, Codable, CaseIterable, Comparable {
    /// Every command answered, no reply an error.
    case ok
    /// Every command sent was answered, and at least one reply matched the error pattern (`^ERR` by default).
    case errorReply = "error-reply"
    case refused
    case unreachable
    case connectTimeout = "connect-timeout"
    case replyTimeout = "reply-timeout"
    case reset
    case closedEarly = "closed-early"
    case tooLarge = "too-large"
    /// The TLS handshake failed or the certificate was not accepted: nothing was sent.
    case tls
    /// The device refused the session (handshake, greeting, login): no command was run.
    case sessionRefused = "session-refused"
    /// Commands may have been received but no answer is known (a crash between intent and outcome, or an I/O
    /// error after writing): never resent unless the command is idempotent.
    case unknown
    /// Not attempted (the run was interrupted before this device's turn).
    case skipped

    /// The outcome for a failed conversation.
    public init(_ code: DeviceError.Code) {
        switch code {
        case .refused: self = .refused
        case .unreachable: self = .unreachable
        case .connectTimeout: self = .connectTimeout
        case .replyTimeout: self = .replyTimeout
        case .reset: self = .reset
        case .closedEarly: self = .closedEarly
        case .tooLarge: self = .tooLarge
        case .tls: self = .tls
        case .sessionRefused: self = .sessionRefused
        default: self = .unknown
        }
    }

    /// Nothing can have reached the device: safe to try again.
    public var isBeforeSending: Bool { self == .refused || self == .unreachable || self == .connectTimeout }

    /// A transport failure (not ok, not an error reply, not unknown or skipped).
    public var isFailure: Bool { !(self == .ok || self == .errorReply || self == .unknown || self == .skipped) }

    public static func < (lhs: Outcome, rhs: Outcome) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!  // every case is in allCases
    }
}

/// One device's result, as `--format jsonl` prints it and the journal records it.
public struct DeviceResult: Sendable, Codable, Hashable {
    public struct Timings: Sendable, Codable, Hashable {
        /// Time to connect, when the connection was made.
        public var connectMilliseconds: Double?
        /// The whole conversation, retries and their back-off included.
        public var totalMilliseconds: Double

        public init(connectMilliseconds: Double? = nil, totalMilliseconds: Double = 0) {
            self.connectMilliseconds = connectMilliseconds
            self.totalMilliseconds = totalMilliseconds
        }

        enum CodingKeys: String, CodingKey {
            case connectMilliseconds = "connect_ms"
            case totalMilliseconds = "total_ms"
        }
    }

    /// The inventory name.
    public var device: String
    /// `host:port`.
    public var address: String
    public var outcome: Outcome
    /// Reply texts (trimmed, non-printables escaped), in command order; fewer than the commands when it failed.
    public var replies: [String]
    /// What went wrong, in one line naming the device, when something did.
    public var error: String?
    public var timings: Timings
    /// Connection attempts made (retries count).
    public var attempts: Int
    /// Set when the result comes from an earlier run's journal (`--resume`) rather than from this run.
    public var resumed: Bool?

    public init(
        device: String, address: String, outcome: Outcome, replies: [String] = [], error: String? = nil,
        timings: Timings = .init(), attempts: Int = 0, resumed: Bool? = nil
    ) {
        self.device = device
        self.address = address
        self.outcome = outcome
        self.replies = replies
        self.error = error
        self.timings = timings
        self.attempts = attempts
        self.resumed = resumed
    }
}

/// A device to run against.
public struct RunTarget: Sendable, Hashable {
    /// The inventory name.
    public var name: String
    public var host: String { didSet { address = HostPort.text(host, port) } }
    public var port: Int { didSet { address = HostPort.text(host, port) } }
    /// `host:port` (an IPv6 host in brackets): made once, as a run asks for it several times per device.
    public private(set) var address: String
    /// Framing for this device, when its inventory group sets one; `nil` uses the run's.
    public var format: FleetFraming.FrameFormat?
    /// TLS for this device, when its inventory group sets TLS options; `nil` uses the run's.
    public var tls: ClientTLS?
    /// The device family's session (greeting, handshake, login), when its preset has one.
    public var session: DevicePreset.Session?
    /// The login password (`fleetcmd_password`).
    public var password: String?
    /// Half-close policy for this device (its preset's), when the run sets none.
    public var halfClose: DeviceClient.HalfClosePolicy?

    public init(
        name: String, host: String, port: Int, format: FleetFraming.FrameFormat? = nil, tls: ClientTLS? = nil
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.address = HostPort.text(host, port)
        self.format = format
        self.tls = tls
    }

    public static func == (lhs: RunTarget, rhs: RunTarget) -> Bool {
        lhs.name == rhs.name && lhs.host == rhs.host && lhs.port == rhs.port && lhs.format == rhs.format
            && lhs.tls === rhs.tls
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(host)
        hasher.combine(port)
    }

    /// The device as messages name it: the inventory name with its address (`front-desk (10.0.0.7:9100)`), or
    /// the address alone where the name is the host.
    public var label: String { name == host || name == address ? address : "\(name) (\(address))" }
}

extension DeviceResult {
    /// The result as one line of JSON with sorted keys (the `--format jsonl` and journal form). Written by hand:
    /// a fleet run prints and journals one per device, and Foundation's encoder costs more than the exchange.
    public var json: String {
        var out = "{\"address\":"
        // Room for the whole line at once: grown append by append it was reallocated several times per device.
        out.reserveCapacity(
            160 + address.utf8.count + device.utf8.count + (error?.utf8.count ?? 0)
                + replies.reduce(0) { $0 + $1.utf8.count + 3 })
        JSONText.append(address, to: &out)
        // Numbers appended as their own (small, unallocated) strings: an interpolation allocated a buffer each.
        out += ",\"attempts\":"
        out += String(attempts)
        out += ",\"device\":"
        JSONText.append(device, to: &out)
        if let error {
            out += ",\"error\":"
            JSONText.append(error, to: &out)
        }
        out += ",\"outcome\":\""
        out += outcome.rawValue
        out += "\",\"replies\":["
        for (index, reply) in replies.enumerated() {
            if index > 0 { out += "," }
            JSONText.append(reply, to: &out)
        }
        out += "]"
        if let resumed { out += resumed ? ",\"resumed\":true" : ",\"resumed\":false" }
        out += ",\"timings\":{"
        if let connect = timings.connectMilliseconds {
            out += "\"connect_ms\":"
            out += connect.description
            out += ","
        }
        out += "\"total_ms\":"
        out += timings.totalMilliseconds.description
        out += "}}"
        return out
    }
}
