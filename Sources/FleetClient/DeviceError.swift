import FleetCodec
import FleetFraming
import FleetTLS
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why talking to a device failed, with the device named and the cause in one line.
///
/// `description` reads like the seed article's messages, made precise:
/// `failed to connect to device 10.0.0.7:9100: connection refused`,
/// `failed to communicate with device 10.0.0.7:9100: closed before the reply was complete (got 12 bytes, no NUL)`.
public struct DeviceError: Error, Sendable, CustomStringConvertible {
    /// The outcome class. A struct so that classes can be added; ``label`` is stable for JSON and grouping.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let label: String
        /// Whether the failure happened while connecting (so no byte of any command was sent).
        public let isConnectPhase: Bool

        private init(_ label: String, connectPhase: Bool) {
            self.label = label
            self.isConnectPhase = connectPhase
        }

        /// The port is closed (RST to our SYN).
        public static let refused = Code("refused", connectPhase: true)
        /// No route, or the name did not resolve.
        public static let unreachable = Code("unreachable", connectPhase: true)
        /// No answer to the connection attempt in time.
        public static let connectTimeout = Code("connect-timeout", connectPhase: true)
        /// Connected, but a reply did not complete in time.
        public static let replyTimeout = Code("reply-timeout", connectPhase: false)
        /// The device reset the connection.
        public static let reset = Code("reset", connectPhase: false)
        /// The device closed before every reply was complete.
        public static let closedEarly = Code("closed-early", connectPhase: false)
        /// A reply grew past the size limit.
        public static let tooLarge = Code("too-large", connectPhase: false)
        /// The TLS handshake failed or the device's certificate was not accepted (nothing was sent).
        public static let tls = Code("tls", connectPhase: true)
        /// The device refused the session before any command was accepted: a handshake refused, an unexpected
        /// greeting, a login that failed or was needed and not possible.
        public static let sessionRefused = Code("session-refused", connectPhase: true)
        /// Any other I/O failure.
        public static let ioError = Code("io-error", connectPhase: false)

        public var description: String { label }
    }

    public var code: Code
    /// The device, as `host:port`.
    public var device: String
    /// The cause, without the device: `connection refused`, `timed out after 5s`.
    public var detail: String
    /// Whether any command byte may have reached the device (so resending could run a command twice).
    public var mayHaveDelivered: Bool
    /// The error this one was made from, if any.
    public var underlying: (any Error)?
    /// For ``Code/sessionRefused``: the device refused a login (a wrong password), not the session itself.
    public var isLoginRefusal = false

    public init(
        code: Code, device: String, detail: String, mayHaveDelivered: Bool? = nil, underlying: (any Error)? = nil
    ) {
        self.code = code
        self.device = device
        self.detail = detail
        self.mayHaveDelivered = mayHaveDelivered ?? !code.isConnectPhase
        self.underlying = underlying
    }

    /// `failed to connect to device …: …`, `failed to communicate with device …: …`, and for a device that
    /// answered but refused the session or the login, `device … refused the session: …` (or `the login`).
    public var description: String {
        if code == .sessionRefused {
            return "device \(device) refused the \(isLoginRefusal ? "login" : "session"): \(detail)"
        }
        let phase = code.isConnectPhase ? "connect to" : "communicate with"
        return "failed to \(phase) device \(device): \(detail)"
    }

    /// Classifies an error from NIO while connecting to (`connecting == true`) or talking to `device`.
    static func classify(_ error: any Error, device: String, connecting: Bool, connectTimeout: Duration) -> DeviceError
    {
        if let error = error as? DeviceError { return error }
        if let failure = TLSFailure.fromLibraryError(error) {
            return DeviceError(code: .tls, device: device, detail: failure.description, underlying: failure)
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return DeviceError(
                code: .connectTimeout, device: device, detail: "timed out after \(DurationText.format(connectTimeout))",
                underlying: error)
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first {
                return classify(first.error, device: device, connecting: true, connectTimeout: connectTimeout)
            }
            let cause = (error.dnsAError ?? error.dnsAAAAError).map {
                SocketAddressText.resolverReason($0) ?? UserFacingText.sanitized("\($0)")
            }
            return DeviceError(
                code: .unreachable, device: device,
                detail: "cannot resolve host '\(error.host)'\(cause.map { ": \($0)" } ?? "")", underlying: error)
        }
        if error is SocketAddressError {
            return DeviceError(
                code: .unreachable, device: device, detail: "cannot resolve host", underlying: error)
        }
        if let error = error as? IOError {
            var classified = fromErrno(error.errnoCode, device: device, connecting: connecting)
            classified.underlying = error
            return classified
        }
        return DeviceError(
            code: connecting ? .unreachable : .ioError, device: device,
            detail: UserFacingText.sanitized("\(error)"), underlying: error)
    }

    /// Why connecting failed, in the words a device's connect failure uses (`connection refused`,
    /// `cannot resolve host 'db-1': name or service not known`, `timed out after 5s`): for the other connections
    /// fleetcmd makes through NIO (the run store), so that they say it the same way.
    public static func connectProblem(_ error: any Error, connectTimeout: Duration) -> String {
        classify(error, device: "", connecting: true, connectTimeout: connectTimeout).detail
    }

    /// Classifies a failed system call's `errno` while connecting to (`connecting == true`) or talking to `device`:
    /// the one mapping both transports (NIO and the runner's epoll path) use.
    static func fromErrno(_ code: Int32, device: String, connecting: Bool) -> DeviceError {
        switch code {
        case ECONNREFUSED:
            return DeviceError(code: .refused, device: device, detail: "connection refused")
        case ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL, ENETDOWN, EHOSTDOWN:
            return DeviceError(code: .unreachable, device: device, detail: UserFacingText.systemReason(code))
        case ETIMEDOUT where connecting:
            return DeviceError(code: .connectTimeout, device: device, detail: "timed out")
        case ECONNRESET, EPIPE:
            return DeviceError(code: .reset, device: device, detail: "connection reset by peer")
        default:
            return DeviceError(
                code: connecting ? .unreachable : .ioError, device: device,
                detail: UserFacingText.systemReason(code))
        }
    }
}
