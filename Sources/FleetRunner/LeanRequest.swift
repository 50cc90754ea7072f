import FleetClient

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
    var replies: [Reply]
    var error: DeviceError?
    var connectDuration: Duration?
    /// Why nothing was sent (the intent could not be recorded), when nothing was.
    var notSent: String? = nil
}

/// The exchanger's thread could not be set up (the runner then uses `DeviceClient` alone).
struct FanOutError: Error {}
