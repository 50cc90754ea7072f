import FleetCodec
import FleetFraming
import FleetTLS
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// Turns one request frame into one reply: validates the bytes, routes, runs the action, audits.
///
/// A class, shared by every connection: as a struct held by the connections' shared context it was copied
/// (a dozen references retained and released) for every command answered.
final class AgentResponder: Sendable {
    let router: CommandRouter
    let configuration: DeviceAgent.Configuration
    let stats: AgentStats
    let startedAt: ContinuousClock.Instant
    let execSlots: AsyncSemaphore
    let logger: Logger
    /// Extra `{name}` values for static replies (the simulator sets `device` and `index`).
    let variables: [String: String]
    /// Listeners where `exec` routes are refused: plaintext and not loopback (and not explicitly allowed).
    let exposedPlaintextListeners: Set<Int>
    /// TLS listeners where `exec` needs a verified client certificate (all of them unless allowAnonymousExec).
    let identityRequiredListeners: Set<Int>
    /// Per-listener `{name}` values (a simulated device's `{device}` and `{index}`).
    let listenerVariables: (@Sendable (Int) -> [String: String])?
    /// Where audit records go instead of the `command` log line (``AgentConnectionHooks/audit``).
    let audit: (@Sendable (AgentAuditRecord) -> Void)?
    /// Before replies are written (``AgentConnectionHooks/auditWillReply``).
    let auditWillReply: (@Sendable () -> Void)?
    /// What answered each command, by slot: the routes' names (index in the router's routes), then `(unknown)`,
    /// `(empty)` and `(invalid)` for commands no route answers.
    private let slotNames: [String]
    /// One latency timer per slot, made before serving (a route's name shares its timer with routes of the same
    /// name): read without a lock or a lookup by name on every command.
    private let slotTimers: [Timer]
    /// Whether each command is audited (an audit hook, or the `command` line at `info`): the level read once, as
    /// the logger's handler (a value) cannot change while serving; reading it per command copied the handler.
    private let auditsCommands: Bool
    /// Per route, whether it runs a program (`exec`), and the identity rules it needs (its own, else for `exec`
    /// routes the configuration's): read by index for every command rather than from each route's enum.
    private let routeIsExec: [Bool]
    private let routeRules: [[String]?]
    private var unknownSlot: Int { router.routes.count }
    private var emptySlot: Int { router.routes.count + 1 }
    private var invalidSlot: Int { router.routes.count + 2 }

    init(
        router: CommandRouter, configuration: DeviceAgent.Configuration, stats: AgentStats,
        startedAt: ContinuousClock.Instant, execSlots: AsyncSemaphore, logger: Logger, variables: [String: String],
        exposedPlaintextListeners: Set<Int> = [], identityRequiredListeners: Set<Int> = [],
        listenerVariables: (@Sendable (Int) -> [String: String])? = nil,
        audit: (@Sendable (AgentAuditRecord) -> Void)? = nil, auditWillReply: (@Sendable () -> Void)? = nil
    ) {
        self.router = router
        self.configuration = configuration
        self.stats = stats
        self.startedAt = startedAt
        self.execSlots = execSlots
        self.logger = logger
        self.variables = variables
        self.exposedPlaintextListeners = exposedPlaintextListeners
        self.identityRequiredListeners = identityRequiredListeners
        self.listenerVariables = listenerVariables
        self.audit = audit
        self.auditWillReply = auditWillReply
        let names = router.routes.map(\.name) + ["(unknown)", "(empty)", "(invalid)"]
        var byName: [String: Timer] = [:]
        for name in names where byName[name] == nil {
            byName[name] = Timer(label: "fleet_agent_command_duration_seconds", dimensions: [("command", name)])
        }
        self.slotNames = names
        self.slotTimers = names.map { byName[$0]! }  // made just above for every name
        self.auditsCommands = audit != nil || logger.logLevel <= .info
        let isExec = router.routes.map { route in
            if case .exec = route.action { return true } else { return false }
        }
        self.routeIsExec = isExec
        self.routeRules = zip(router.routes, isExec).map { route, isExec in
            route.allow ?? (isExec ? configuration.execAllow : nil)
        }
    }

    /// Who sent a command: the connection's peer, id, listener and (on TLS with a client certificate) identity.
    struct Caller: Sendable {
        var peer: String
        var connectionID: Int
        var listener: Int
        var identity: ClientIdentity? = nil
    }

    /// The reply payload for `payload` (unframed).
    func reply(to payload: ByteBuffer, caller: Caller) async -> AgentReply {
        let began = NIODeadline.now()
        let command = AgentCommand(frame: payload)
        let (reply, slot): (AgentReply, Int)
        if let now = answerNow(command, caller: caller) {
            (reply, slot) = now
        } else {
            (reply, slot) = await answerLater(command, caller: caller)
        }
        record(reply, slot: slot, command: command, began: began, caller: caller)
        return reply
    }

    /// The reply, when the route answers without suspending (no `exec`, no async handler); `nil` otherwise.
    /// - Parameter received: when the frame was received (a batch of frames read together shares it); the
    ///   command's duration runs from then.
    func replyNow(to payload: ByteBuffer, caller: Caller, received: NIODeadline) -> AgentReply? {
        let command = AgentCommand(frame: payload)
        guard let (reply, slot) = answerNow(command, caller: caller) else { return nil }
        record(reply, slot: slot, command: command, began: received, caller: caller)
        return reply
    }

    private func record(_ reply: AgentReply, slot: Int, command: AgentCommand, began: NIODeadline, caller: Caller) {
        let took = Int64(truncatingIfNeeded: NIODeadline.now().uptimeNanoseconds &- began.uptimeNanoseconds)
        let isError = reply.isError
        if isError { stats.error(.errorReply) }
        slotTimers[slot].recordNanoseconds(took)
        guard auditsCommands else { return }
        let record = AgentAuditRecord(
            peer: caller.peer, connectionID: caller.connectionID, commandName: slotNames[slot],
            commandText: command.auditText, isError: isError, durationNanoseconds: took,
            identity: caller.identity.map { "\($0)" })
        if let audit {
            audit(record)
        } else {
            logger.info("command", metadata: record.metadata)
        }
    }

    /// The answer when it needs no suspension, with its slot; `nil` for `exec` and async handler routes.
    private func answerNow(_ command: AgentCommand, caller: Caller) -> (AgentReply, Int)? {
        guard !command.isEmpty else { return (Self.emptyCommand, emptySlot) }
        guard let text = routedText(command) else {
            stats.error(.invalidByte)
            return (Self.invalidByte, invalidSlot)
        }
        guard let (index, arguments) = router.matchIndex(text) else {
            return (configuration.unknownCommandReply, unknownSlot)
        }
        if let refusal = refusal(ofRoute: index, caller: caller) { return (refusal, index) }
        switch router.routes[index].action {
        case .reply(let template):
            var values = variables
            if let listenerVariables { values.merge(listenerVariables(caller.listener)) { _, new in new } }
            values["0"] = text
            for (position, argument) in arguments.enumerated() { values[String(position + 1)] = argument }
            return (.text(template.substituting(values)), index)
        case .builtin(let builtin):
            return (builtinReply(builtin, text: text), index)
        case .immediate(let handler):
            let request = AgentRequest(
                payload: command.bytes, text: text, arguments: arguments, peer: caller.peer,
                connectionID: caller.connectionID, listener: caller.listener, identity: caller.identity)
            return (handler(request), index)
        case .exec, .handler:
            return nil
        }
    }

    /// The answer of an `exec` or async handler route (``answerNow`` returned `nil`).
    private func answerLater(_ command: AgentCommand, caller: Caller) async -> (AgentReply, Int) {
        guard let text = routedText(command), let (index, arguments) = router.matchIndex(text) else {
            return (configuration.unknownCommandReply, unknownSlot)  // answerNow handled these
        }
        let request = AgentRequest(
            payload: command.bytes, text: text, arguments: arguments, peer: caller.peer,
            connectionID: caller.connectionID,
            listener: caller.listener, identity: caller.identity)
        switch router.routes[index].action {
        case .exec(let action):
            return (await execReply(action, request: request), index)
        case .handler(let handler):
            return (await handler(request), index)
        case .reply, .builtin, .immediate:
            return answerNow(command, caller: caller)!  // never nil for these
        }
    }

    private static let emptyCommand = AgentReply.error("empty command")
    private static let invalidByte = AgentReply.error("invalid byte")
    private static let pong = AgentReply.text("PONG")
    private static let version = AgentReply.text("fleetcmd-agent \(DeviceAgent.version)")

    /// The error reply when `caller` may not use the route at `index`, else `nil`: `exec` routes on a plaintext
    /// listener that is not loopback (unless the configuration allows it), and routes whose identity rules the
    /// caller's client certificate does not satisfy.
    private func refusal(ofRoute index: Int, caller: Caller) -> AgentReply? {
        let isExec = routeIsExec[index]
        guard isExec || routeRules[index] != nil else { return nil }  // the common case: nothing to check
        if isExec, exposedPlaintextListeners.contains(caller.listener) {
            stats.error(.forbidden)
            return .error("exec commands are not allowed on a plaintext listener (use TLS with client certificates)")
        }
        if isExec, caller.identity == nil, identityRequiredListeners.contains(caller.listener) {
            stats.error(.forbidden)
            return .error("exec commands need a verified client certificate")
        }
        guard let rules = routeRules[index] else { return nil }
        guard let identity = caller.identity, rules.contains(where: identity.matches) else {
            stats.error(.forbidden)
            return .error("forbidden")
        }
        return nil
    }

    /// The text routes see: the command as text, or (for binary devices) its hex digits; `nil` when neither.
    private func routedText(_ command: AgentCommand) -> String? {
        if let text = command.text { return text }
        guard configuration.matchesBinaryCommandsAsHex else { return nil }
        let digits = Array("0123456789abcdef".utf8)
        return String(
            decoding: command.bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }, as: UTF8.self)
    }

    private func builtinReply(_ builtin: Builtin, text command: String) -> AgentReply {
        switch builtin {
        case .ping:
            return Self.pong
        case .echo:
            let text = command.dropFirst(4).drop(while: { $0 == " " })
            guard text.utf8.count <= configuration.limits.maxEchoBytes else {
                return .error("echo text exceeds \(ByteCount.format(configuration.limits.maxEchoBytes))")
            }
            return .text(String(text))
        case .status:
            let snapshot = stats.snapshot
            return .text(
                "OK uptime=\(uptimeSeconds)s connections=\(snapshot.connectionsOpen) frames=\(snapshot.frames)")
        case .version:
            return Self.version
        case .uptime:
            return .text(String(uptimeSeconds))
        case .help:
            return .text("OK " + router.names.joined(separator: ", "))
        case .stats:
            return .text(stats.statsLine)
        }
    }

    private var uptimeSeconds: Int64 { (ContinuousClock.now - startedAt).components.seconds }

    private func execReply(_ action: ExecAction, request: AgentRequest) async -> AgentReply {
        await execSlots.wait()
        defer { execSlots.signal() }
        let argv = action.resolvedArguments(command: request.text, arguments: request.arguments)
        switch await ExecRunner.run(argv, action: action) {
        case .output(let output):
            var trimmed = output[...]
            while let last = trimmed.last, last == 0x0A || last == 0x0D { trimmed.removeLast() }
            return AgentReply(payload: Array(trimmed))
        case .exitStatus(let status, let stderr):
            return .error("exit status \(status)\(stderr.isEmpty ? "" : ": \(stderr)")")
        case .timedOut:
            return .error("timed out after \(DurationText.format(action.timeout))")
        case .outputTooLarge:
            return .error("output exceeds \(ByteCount.format(action.maxOutputBytes))")
        case .failedToStart(let reason):
            return .error("cannot run command: \(reason)")
        }
    }

    /// Appends `reply`, framed, to `buffer`. A reply that contains its own terminator would let a client be fed
    /// fake replies, so it is replaced by an error.
    func encode(_ reply: AgentReply, into buffer: inout ByteBuffer) {
        buffer.writeReply(reply, spec: configuration.format.reply)
    }
}

extension ByteBuffer {
    /// Appends `reply` framed by `spec`. A reply that contains its own terminator would let a client be fed fake
    /// replies, so it is replaced by an error; so is one the framing cannot carry.
    mutating func writeReply(_ reply: AgentReply, spec: FrameSpec) {
        guard !reply.isSilent else { return }
        var payload = reply.payload
        if !spec.canFrame(payload) {
            payload = Array("ERR reply contains the frame terminator".utf8)
        }
        let mark = writerIndex
        do {
            try writeFrame(payload, spec: spec)
        } catch {
            moveWriterIndex(to: mark)
            try? writeFrame(Array("ERR reply does not fit the frame format".utf8), spec: spec)
        }
    }
}
