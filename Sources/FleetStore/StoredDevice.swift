public import FleetRunner

/// A device of a stored run as `runs show` reports it.
public struct StoredDevice: Sendable, Hashable {
    public var name: String
    public var address: String
    public var site: String?
    public var worker: String?
    /// `pending`, `claimed`, `sending` (intent recorded) or `done`.
    public var state: String
    /// The outcome's record, once there is one.
    public var result: DeviceResult?
}
