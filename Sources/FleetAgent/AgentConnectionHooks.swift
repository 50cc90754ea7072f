public import NIOCore

/// The one way to change how a ``DeviceAgent`` serves its connections, in the spirit of a server's child-channel
/// initializer: the simulator makes devices misbehave through it, and every connection still goes through the
/// agent's one serving path (framing, limits, routing, audit).
///
/// ```swift
/// var hooks = AgentConnectionHooks()
/// hooks.admit = { channel, listener in listener == 3 ? .close : .serve }   // device 3: one session at a time
/// hooks.addHandlers = { pipeline, listener in try pipeline.addHandler(SlowRepliesHandler()) }
/// let agent = DeviceAgent(configuration: configuration, logger: logger, hooks: hooks)
/// ```
///
/// Every hook runs on the connection's event loop and must not block.
public struct AgentConnectionHooks: Sendable {
    /// Decides what happens to a connection accepted on listener `listener` (an index into
    /// ``DeviceAgent/Configuration/listen``), after the access list and before any handler is added. The hook may
    /// watch the channel (its `closeFuture`). Default: serve every connection.
    public var admit: @Sendable (_ channel: any Channel, _ listener: Int) -> Admission = { _, _ in .serve }

    /// Adds handlers between the agent's framing and its command handler. They see each batch of request frames
    /// (``AgentInbound``) going in and each write of framed replies (a `ByteBuffer`) going out, so they can count,
    /// delay, cut or replace replies, and they receive `ChannelEvent.inputClosed` before the agent does. Default:
    /// none.
    public var addHandlers:
        @Sendable (_ pipeline: ChannelPipeline.SynchronousOperations, _ listener: Int) throws -> Void = { _, _ in }

    /// More `{name}` values for static replies on connections from `listener` (a simulated device's name).
    /// Default: none.
    public var variables: @Sendable (_ listener: Int) -> [String: String] = { _ in [:] }

    /// Takes the audit record of every answered command, instead of the agent's info-level `command` log line.
    /// Runs on the event loop for every command, so it must be cheap and must never block (queue the record, do
    /// not write it). Default: `nil`, the log line through the agent's `Logger`.
    public var audit: (@Sendable (AgentAuditRecord) -> Void)? = nil

    /// Called on the connection's event loop just before a batch's replies are written, when ``audit`` queues
    /// records per event loop: hand this loop's queued records on, so that they are in the log's queue before the
    /// client can see the replies. A client that waits for each reply then finds the lines in the order it sent
    /// the commands, whichever loops served them. Default: `nil`.
    public var auditWillReply: (@Sendable () -> Void)? = nil

    public init() {}
}

/// What to do with an accepted connection.
public enum Admission: Sendable, Hashable {
    /// Serve it as usual.
    case serve
    /// Close it at once (a device that allows one session at a time).
    case close
    /// Keep it open but never read from it (the client's writes eventually stall).
    case neverRead
}
