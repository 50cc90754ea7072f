import FleetFraming

/// A listener that could not be opened: which one, and why. `agent` says
/// `cannot listen on 127.0.0.1:9100: address already in use` (nginx names the address too), rather than the
/// bare reason, which leaves an agent with several listeners to guess.
public struct ListenerBindError: Error, CustomStringConvertible {
    public var listener: DeviceAgent.ListenAddress
    /// The bind's own error (a system call's, or a failed name lookup).
    public var underlying: any Error

    public init(listener: DeviceAgent.ListenAddress, underlying: any Error) {
        self.listener = listener
        self.underlying = underlying
    }

    public var description: String {
        "cannot listen on \(listener): \(UserFacingText.sanitized("\(underlying)"))"
    }
}
