/// A run as the store keeps it: what workers need to rebuild its settings (the command line, passwords redacted),
/// the commands as typed, and whether they may be repeated.
public struct StoredRun: Sendable, Hashable {
    public var id: String
    public var arguments: [String]
    public var commands: [String]
    public var isIdempotent: Bool
    public var devices = 0
    public var isFinished = false
    /// When it was created, in seconds since 1970.
    public var created: Double = 0

    public init(id: String, arguments: [String], commands: [String], isIdempotent: Bool) {
        self.id = id
        self.arguments = arguments
        self.commands = commands
        self.isIdempotent = isIdempotent
    }
}
