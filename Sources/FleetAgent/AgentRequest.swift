public import FleetTLS

/// One command as the agent received it.
public struct AgentRequest: Sendable {
    /// The command's bytes, without framing.
    public var payload: [UInt8]
    /// The command as text (the agent only passes valid UTF-8 without control bytes to handlers).
    public var text: String
    /// Captures from the route that matched: the words after a prefix route, or a pattern's groups.
    public var arguments: [String]
    /// The client, as `host:port`.
    public var peer: String
    /// A number unique to the connection within this agent.
    public var connectionID: Int
    /// The listener that accepted the connection: an index into the configuration's `listen` (a simulated
    /// fleet serves one device per listener).
    public var listener: Int
    /// The client certificate's names, on a TLS connection whose client presented one.
    public var identity: ClientIdentity?

    public init(
        payload: [UInt8], text: String, arguments: [String] = [], peer: String, connectionID: Int, listener: Int = 0,
        identity: ClientIdentity? = nil
    ) {
        self.identity = identity
        self.payload = payload
        self.text = text
        self.arguments = arguments
        self.peer = peer
        self.connectionID = connectionID
        self.listener = listener
    }
}

/// The agent's answer to one request. Replies that start with `ERR ` are errors by convention.
public struct AgentReply: Sendable, Hashable {
    /// The reply's bytes, without framing (the agent adds the terminator).
    public var payload: [UInt8]
    /// No reply at all: nothing is written (a printer taking `@PJL SET` without a word).
    public var isSilent: Bool

    public init(payload: [UInt8]) {
        self.payload = payload
        self.isSilent = false
    }

    /// Nothing is written back.
    public static let silent: AgentReply = {
        var reply = AgentReply(payload: [])
        reply.isSilent = true
        return reply
    }()

    /// A text reply.
    public static func text(_ text: String) -> AgentReply { AgentReply(payload: Array(text.utf8)) }

    /// An error reply: `ERR <message>`.
    public static func error(_ message: String) -> AgentReply { .text("ERR " + message) }

    /// Whether the reply is an error reply (starts with `ERR`).
    public var isError: Bool {
        payload.count >= 3 && payload[0] == UInt8(ascii: "E") && payload[1] == UInt8(ascii: "R")
            && payload[2] == UInt8(ascii: "R")
    }
}

/// Answers a request. Handlers run concurrently across connections and in order within one.
public typealias AgentHandler = @Sendable (AgentRequest) async -> AgentReply

/// Answers a request at once, on the connection's event loop: it must not block.
public typealias AgentImmediateHandler = @Sendable (AgentRequest) -> AgentReply
