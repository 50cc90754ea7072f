import FleetClient
import FleetFraming

/// One conversation for the lean exchanger. A class: the queue, the batch and the connection pass it along, and
/// copying the struct it was (a client configuration, commands, closures) retained a dozen references each time.
final class LeanRequest: Sendable {
    let address: SocketAddressBytes
    /// `host:port`, for error texts.
    let device: String
    let commands: [[UInt8]]
    let configuration: DeviceClient.Configuration
    /// The journal record the loop must write before the device's first byte, when the runner left it to the loop:
    /// the loop writes the intents of every device it is about to start in one write.
    let intent: LeanIntent?
    let completion: @Sendable (AttemptResult) -> Void

    /// Where the lean path can hold a conversation with `host:port` under `configuration`: a literal IPv4/IPv6
    /// address, plaintext, no session (greeting, login) and self-delimiting replies that always come; `nil` when only
    /// `DeviceClient` can (names to resolve, TLS, sessions, replies that end at close or silence).
    static func address(
        host: String, port: Int, for configuration: DeviceClient.Configuration
    )
        -> SocketAddressBytes?
    {
        guard
            configuration.format.reply.isSelfDelimiting, configuration.tls == nil, configuration.session.isEmpty,
            configuration.replies.isAlways
        else { return nil }
        return SocketAddressBytes(host: host, port: port)
    }

    init(
        address: SocketAddressBytes, device: String, commands: [[UInt8]], configuration: DeviceClient.Configuration,
        intent: LeanIntent?, completion: @escaping @Sendable (AttemptResult) -> Void
    ) {
        self.address = address
        self.device = device
        self.commands = commands
        self.configuration = configuration
        self.intent = intent
        self.completion = completion
    }
}

/// An intent record to write before a conversation starts.
struct LeanIntent: Sendable {
    var journal: RunJournal
    /// The inventory name.
    var device: String
}

/// One attempt's outcome, from either client path.
struct AttemptResult: Sendable {
    /// The conversation; `nil` when nothing was sent.
    var exchange: Exchange?
    /// Why nothing was sent (the intent could not be recorded), when nothing was.
    var notSent: String? = nil

    var replies: [Reply] { exchange?.replies ?? [] }
    var error: DeviceError? { exchange?.error }
    var connectDuration: Duration? { exchange?.connectDuration }
}

/// The exchanger's thread could not be set up (the runner then uses `DeviceClient` alone).
struct FanOutError: Error {}
