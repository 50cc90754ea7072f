import FleetCodec
public import Logging

/// One answered command, as the agent's audit trail records it: who sent what, on which connection, how it ended
/// and how long it took.
///
/// By default the agent writes it as an info-level `command` line through its `Logger` (``metadata``). A host that
/// can write it more cheaply sets ``AgentConnectionHooks/audit``: `fleetcmd agent` renders it straight into its log
/// buffer, in the same fields and order, without building a metadata dictionary per command.
public struct AgentAuditRecord: Sendable {
    /// The client's address, `host:port`.
    public var peer: String
    /// The connection's number (in every log line about it).
    public var connectionID: Int
    /// The route that answered (`(unknown)`, `(empty)`, `(invalid)` when none did).
    public var commandName: String
    /// The command as received, escaped for display, at most 64 bytes and then `…`.
    public var commandText: String
    /// Whether the reply was an error reply.
    public var isError: Bool
    /// From frame received to reply ready.
    public var duration: Duration {
        get { .nanoseconds(durationNanoseconds) }
        set {
            let (seconds, attoseconds) = newValue.components
            durationNanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        }
    }
    /// ``duration`` in nanoseconds, as it is measured and written (no 128-bit arithmetic per command).
    var durationNanoseconds: Int64
    /// The verified client certificate's identity, on TLS with client certificates.
    public var identity: String?

    public init(
        peer: String, connectionID: Int, commandName: String, commandText: String, isError: Bool, duration: Duration,
        identity: String? = nil
    ) {
        self.peer = peer
        self.connectionID = connectionID
        self.commandName = commandName
        self.commandText = commandText
        self.isError = isError
        self.durationNanoseconds = 0
        self.identity = identity
        self.duration = duration
    }

    /// As the agent makes it: the duration in nanoseconds.
    init(
        peer: String, connectionID: Int, commandName: String, commandText: String, isError: Bool,
        durationNanoseconds: Int64, identity: String?
    ) {
        self.peer = peer
        self.connectionID = connectionID
        self.commandName = commandName
        self.commandText = commandText
        self.isError = isError
        self.durationNanoseconds = durationNanoseconds
        self.identity = identity
    }

    /// Milliseconds to the microsecond, as `duration_ms` shows them (`0.004`, `12.5`, `3.0`).
    public var durationText: String {
        var out: [UInt8] = []
        appendDurationText(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// ``durationText``'s bytes appended to `out`, without making a `String` (the audit line's hot path).
    public func appendDurationText(to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(byteCount: Self.maxDurationTextCount, alignment: 1) { buffer in
            let count = writeDurationText(to: buffer.baseAddress!)  // a temporary allocation has an address
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// The most bytes ``writeDurationText(to:)`` writes.
    public static let maxDurationTextCount = DecimalDigits.maxCount + 4

    /// ``durationText``'s bytes written at `base` (at most ``maxDurationTextCount``).
    /// - Returns: how many bytes were written.
    public func writeDurationText(to base: UnsafeMutableRawPointer) -> Int {
        let microseconds = max(0, (durationNanoseconds + 500) / 1000)
        var at = DecimalDigits.write(microseconds / 1000, to: base)
        func put(_ byte: UInt8) {
            base.storeBytes(of: byte, toByteOffset: at, as: UInt8.self)
            at += 1
        }
        put(UInt8(ascii: "."))
        var fraction = microseconds % 1000
        guard fraction > 0 else {
            put(UInt8(ascii: "0"))
            return at
        }
        var divisor: Int64 = 100
        while fraction > 0 {
            put(UInt8(ascii: "0") + UInt8(fraction / divisor))
            fraction %= divisor
            divisor /= 10
        }
        return at
    }

    /// The fields of the audit line, sorted by name (as a log handler that sorts its keys writes them).
    public var fields: [(String, String)] {
        var fields: [(String, String)] = []
        fields.reserveCapacity(7)
        if let identity { fields.append(("client.identity", identity)) }
        fields.append(("command.name", commandName))
        fields.append(("command.text", commandText))
        fields.append(("connection.id", String(connectionID)))
        fields.append(("duration_ms", durationText))
        fields.append(("outcome", isError ? "error" : "ok"))
        fields.append(("peer", peer))
        return fields
    }

    /// The same fields as log metadata (the default audit path).
    public var metadata: Logger.Metadata {
        var metadata: Logger.Metadata = [:]
        for (key, value) in fields { metadata[key] = .string(value) }
        return metadata
    }
}
