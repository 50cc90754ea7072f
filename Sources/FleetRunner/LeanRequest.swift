import FleetClient

/// One conversation for the lean exchanger.
struct LeanRequest: Sendable {
    var address: SocketAddressBytes
    /// `host:port`, for error texts.
    var device: String
    var commands: [[UInt8]]
    var configuration: DeviceClient.Configuration
    var completion: @Sendable (AttemptResult) -> Void
}

/// One attempt's outcome, from either client path.
struct AttemptResult: Sendable {
    var replies: [Reply]
    var error: DeviceError?
    var connectDuration: Duration?
}

/// The exchanger's thread could not be set up (the runner then uses `DeviceClient` alone).
struct FanOutError: Error {}
