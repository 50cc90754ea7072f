public import FleetFraming
public import FleetTLS

extension DeviceAgent {
    /// Everything that shapes a ``DeviceAgent``: where it listens, how it frames, and its limits.
    public struct Configuration: Sendable {
        /// Where to listen. Default: `0.0.0.0:9100`, as the seed article's devices.
        public var listen: [ListenAddress]
        /// The framing (requests are decoded with `format.request`, replies encoded with `format.reply`).
        /// Default: ``FrameFormat/escCR``.
        public var format: FrameFormat
        /// Hard limits against bad input and hostile clients.
        public var limits: Limits
        /// The reply for commands no route matches. Default: `ERR unknown command`.
        public var unknownCommandReply: AgentReply
        /// How long in-flight commands may run after shutdown begins before connections are closed.
        /// Default: 10 s.
        public var shutdownGracePeriod: Duration
        /// Certificate, key and client verification for the listeners marked ``ListenAddress/tls``.
        public var tls: ServerTLSSettings?
        /// Client networks let in or kept out at accept. Default: everyone.
        public var access: AccessList = AccessList()
        /// Allow `exec` routes on plaintext listeners that are not loopback. Default: false (they reply
        /// `ERR exec commands are not allowed on a plaintext listener`), since anyone on the path could run them.
        public var allowPlaintextExec = false
        /// Allow `exec` routes for TLS clients that presented no verified client certificate (no client CA, or
        /// `client_verification: optional`). Default: false (they reply `ERR exec commands need a verified client
        /// certificate`), since without an identity anyone who can reach the port could run them.
        public var allowAnonymousExec = false
        /// Identity rules for `exec` routes that set no ``CommandRouter/Route/allow`` of their own; `nil`: no rule.
        public var execAllow: [String]?
        /// A greeting, handshake or login before commands (a simulated device family). Default: none.
        public var session: AgentSession?
        /// Match commands that are not text (control bytes, invalid UTF-8) by their lowercase hex digits, so that
        /// a route named `100401` answers ESC/POS `DLE EOT 1`. Default: false (they get `ERR invalid byte`).
        public var matchesBinaryCommandsAsHex = false
        /// Accept on every event loop: each listener is one socket per loop (`SO_REUSEPORT`, the kernel spreads new
        /// connections over them), and a connection is served by the loop that accepted it. With one socket, the
        /// accepting loop hands most connections to another loop, a cross-thread hand-off that costs about a fifth of
        /// a short connection's CPU. Off by default: a simulator with thousands of listeners would hold one socket per
        /// loop for each; `fleetcmd agent` turns it on.
        public var acceptsOnEveryLoop = false

        public init(
            listen: [ListenAddress] = [ListenAddress(host: "0.0.0.0", port: 9100)],
            format: FrameFormat = .escCR,
            limits: Limits = Limits(),
            unknownCommandReply: AgentReply = .error("unknown command"),
            shutdownGracePeriod: Duration = .seconds(10)
        ) {
            self.listen = listen
            self.format = format
            self.limits = limits
            self.unknownCommandReply = unknownCommandReply
            self.shutdownGracePeriod = shutdownGracePeriod
        }
    }

    /// A host (IPv4 or IPv6 literal, or name) and port to listen on. Port 0 picks a free port.
    public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        /// Serve TLS on this listener, with the configuration's ``Configuration/tls``.
        public var tls: Bool

        public init(host: String, port: Int, tls: Bool = false) {
            self.host = host
            self.port = port
            self.tls = tls
        }

        /// Whether only this machine can reach the listener (127.0.0.0/8, ::1, localhost).
        public var isLoopback: Bool {
            host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }

        public var description: String {
            (tls ? "tls://" : "") + HostPort.text(host, port)
        }
    }

    /// Limits that keep one client, or many, from hurting the agent or other clients.
    public struct Limits: Sendable, Hashable {
        /// Largest request frame payload, in bytes. Default: 4 KiB. A larger frame gets `ERR frame too large`
        /// and the connection is closed; the agent never buffers more than this (plus one read).
        public var maxFrameBytes: Int
        /// A connection with no bytes received for this long is closed. Default: 60 s.
        public var idleTimeout: Duration
        /// A frame that has started must complete within this time (slowloris defence). Default: 10 s.
        public var frameTimeout: Duration
        /// Connections open at once; more are refused at accept. Default: 1024.
        public var maxConnections: Int
        /// Connections open at once from one source address. Default: 64.
        public var maxConnectionsPerSource: Int
        /// Exec handlers running at once (across all connections). Default: 4.
        public var maxConcurrentExecs: Int
        /// Longest `ECHO` argument echoed, in bytes. Default: 1 KiB.
        public var maxEchoBytes: Int

        public init(
            maxFrameBytes: Int = 4096,
            idleTimeout: Duration = .seconds(60),
            frameTimeout: Duration = .seconds(10),
            maxConnections: Int = 1024,
            maxConnectionsPerSource: Int = 64,
            maxConcurrentExecs: Int = 4,
            maxEchoBytes: Int = 1024
        ) {
            self.maxFrameBytes = maxFrameBytes
            self.idleTimeout = idleTimeout
            self.frameTimeout = frameTimeout
            self.maxConnections = maxConnections
            self.maxConnectionsPerSource = maxConnectionsPerSource
            self.maxConcurrentExecs = maxConcurrentExecs
            self.maxEchoBytes = maxEchoBytes
        }
    }
}
