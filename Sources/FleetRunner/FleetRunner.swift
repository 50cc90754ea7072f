public import FleetClient
import FleetFraming
import Foundation
import NIOConcurrencyHelpers
public import NIOCore
public import NIOPosix

/// Sends the same commands to many devices: a sliding window of conversations, retries only where nothing
/// can have been received, one connection at a time per device address, an optional start rate, and a journal.
public struct FleetRunner: Sendable {
    public struct Configuration: Sendable {
        /// The commands (unframed payloads), sent in order over one connection per device.
        public var commands: [[UInt8]]
        /// Framing, timeouts, half-close and reply limit for every device (a target's own framing wins).
        public var client: DeviceClient.Configuration
        /// Conversations in flight at once. Default: 1000.
        public var forks: Int
        /// Conversations started per second at most. Default: no limit.
        public var ratePerSecond: Double?
        /// Further attempts after a failure that happened before anything was sent (refused, unreachable,
        /// connect timeout). Default: 2.
        public var retries: Int
        /// The first retry waits about this long, each later one twice as long, ±50 % jitter. Default: 200 ms.
        public var retryBackoff: Duration
        /// The commands are safe to repeat: retry after any failure, and resend on resume. Default: false.
        public var isIdempotent: Bool
        /// Stop sending a device's later commands after its first error reply. Default: false.
        public var stopOnError: Bool
        /// Whether a reply is an error reply. Default: it starts with `ERR`.
        public var isErrorReply: @Sendable (String) -> Bool
        /// Talk to devices with literal addresses and self-delimiting replies over raw non-blocking sockets on
        /// epoll threads (about a quarter of the CPU of a NIO channel per device), with the same timeouts, limits
        /// and error classes as ``DeviceClient``. Default: true.
        public var usesLeanSockets = true
        /// How many epoll threads share the lean path's conversations. Default (`nil`): one per 128 conversations
        /// in flight, at most one per core.
        public var leanThreads: Int?

        public init(
            commands: [[UInt8]], client: DeviceClient.Configuration = .init(), forks: Int = 1000,
            ratePerSecond: Double? = nil, retries: Int = 2, retryBackoff: Duration = .milliseconds(200),
            isIdempotent: Bool = false, stopOnError: Bool = false,
            isErrorReply: @escaping @Sendable (String) -> Bool = { $0.hasPrefix("ERR") }
        ) {
            self.commands = commands
            self.client = client
            self.forks = forks
            self.ratePerSecond = ratePerSecond
            self.retries = retries
            self.retryBackoff = retryBackoff
            self.isIdempotent = isIdempotent
            self.stopOnError = stopOnError
            self.isErrorReply = isErrorReply
        }
    }

    /// Progress after each device.
    public struct Progress: Sendable {
        public var total: Int
        public var done: Int
        public var ok: Int
        public var inFlight: Int
    }

    public let configuration: Configuration
    fileprivate let group: any EventLoopGroup

    public init(
        configuration: Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
    }

    /// Runs every target; `onResult` sees each device's result as it finishes (in completion order). Devices not
    /// yet started when the task is cancelled come back `skipped` and get no journal record.
    ///
    /// - Parameters:
    ///   - journal: where intents and outcomes go; an intent is written before a device's first byte.
    /// - Returns: every target's result, in target order.
    public func run(
        _ targets: [RunTarget], journal: RunJournal? = nil,
        onResult: @escaping @Sendable (DeviceResult, Progress) -> Void = { _, _ in }
    ) async -> [DeviceResult] {
        await run(targets, journal: journal, keepingResults: true) { _, result, _, progress in
            onResult(result, progress)
        }
    }

    /// Runs every target; `onResult` sees each device's result with its index in `targets` as it finishes, and the
    /// result as one line of JSON when the journal has rendered it (``DeviceResult/json``; `nil` without a journal
    /// or when the outcome could not be recorded), so that a caller printing that line does not render it again.
    ///
    /// - Parameter keepingResults: `false` keeps nothing of a finished device (the caller tallies what it needs
    ///   from `onResult`, so memory does not grow with the fleet); the returned array then holds only the targets
    ///   that never started, as `skipped`, in target order.
    /// - Returns: with `keepingResults`, every target's result in target order.
    public func run(
        _ targets: [RunTarget], journal: RunJournal? = nil, keepingResults: Bool,
        onResult: @escaping @Sendable (Int, DeviceResult, String?, Progress) -> Void
    ) async -> [DeviceResult] {
        // Targets that share an address run one after another: a device gets one connection at a time.
        var lanes: [[Int]] = []
        var laneOf: [String: Int] = [:]
        lanes.reserveCapacity(targets.count)
        laneOf.reserveCapacity(targets.count)
        for (index, target) in targets.enumerated() {
            if let lane = laneOf[target.address] {
                lanes[lane].append(index)
            } else {
                laneOf[target.address] = lanes.count
                lanes.append([index])
            }
        }
        // Conversations in flight at once: the window's width, which also sizes the lean path.
        let width = min(max(1, configuration.forks), lanes.count)
        let lean =
            configuration.usesLeanSockets
            ? try? LeanExchanger(
                threads: configuration.leanThreads ?? LeanExchanger.threads(forWidth: width, cores: System.coreCount))
            : nil
        defer { lean?.shutdown() }
        let window = Window(
            runner: self, targets: targets, lanes: lanes, journal: journal, lean: lean, keepingResults: keepingResults,
            onResult: onResult, pacer: Pacer(ratePerSecond: configuration.ratePerSecond))
        let (kept, started) = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in window.start(width: width, continuation) }
        } onCancel: {
            window.cancel()
        }
        func skipped(_ target: RunTarget) -> DeviceResult {
            DeviceResult(device: target.name, address: target.address, outcome: .skipped)
        }
        guard keepingResults else {
            return targets.indices.filter { !started[$0] }.map { skipped(targets[$0]) }
        }
        return targets.enumerated().map { index, target in kept[index] ?? skipped(target) }
    }

    /// The sliding window, driven from the event loops: a finished conversation starts the next one in its
    /// completion callback, so a device costs no task and no hop between threads.
    private final class Window: Sendable {
        struct State {
            var nextLane = 0
            var lanesRunning = 0
            var isCancelled = false
            /// Finished results, when they are kept.
            var results: [DeviceResult?]
            /// Which targets finished (one byte each), when results are not kept.
            var finished: [Bool]
            var progress: Progress
            var continuation: CheckedContinuation<Finished, Never>?
            /// Targets whose intent the start wrote already (with the others of the first window).
            var intentWritten: Set<Int> = []
        }

        let runner: FleetRunner
        let targets: [RunTarget]
        let lanes: [[Int]]
        let journal: RunJournal?
        let lean: LeanExchanger?
        let onResult: @Sendable (Int, DeviceResult, String?, Progress) -> Void
        let pacer: Pacer
        let state: NIOLockedValueBox<State>
        let keepingResults: Bool
        /// The kept results (or none) and which targets finished (or none, when results are kept).
        typealias Finished = (kept: [DeviceResult?], started: [Bool])

        init(
            runner: FleetRunner, targets: [RunTarget], lanes: [[Int]], journal: RunJournal?, lean: LeanExchanger?,
            keepingResults: Bool, onResult: @escaping @Sendable (Int, DeviceResult, String?, Progress) -> Void,
            pacer: Pacer
        ) {
            self.keepingResults = keepingResults
            self.runner = runner
            self.targets = targets
            self.lanes = lanes
            self.journal = journal
            self.lean = lean
            self.onResult = onResult
            self.pacer = pacer
            self.state = NIOLockedValueBox(
                State(
                    results: keepingResults ? Array(repeating: nil, count: targets.count) : [],
                    finished: keepingResults ? [] : Array(repeating: false, count: targets.count),
                    progress: Progress(total: targets.count, done: 0, ok: 0, inFlight: 0)))
        }

        /// Starts the first `width` lanes; each finished conversation starts the next.
        func start(width: Int, _ continuation: CheckedContinuation<Finished, Never>) {
            state.withLockedValue { $0.continuation = continuation }
            if width == 0 { finishIfDone() }
            // The devices that start at once get their intents in one write, before any of their first bytes.
            if let journal, !pacer.isPacing, width > 1 {
                let first = lanes.prefix(width).compactMap(\.first)
                do {
                    try journal.intents(first.map { targets[$0].name })
                    state.withLockedValue { $0.intentWritten = Set(first) }
                } catch {
                    // Each device tries (and reports) its own intent.
                }
            }
            for _ in 0..<width { nextLane() }
        }

        func cancel() {
            state.withLockedValue { $0.isCancelled = true }
            finishIfDone()
        }

        /// Takes the next lane, if any and not cancelled, and runs its first target.
        private func nextLane() {
            let lane = state.withLockedValue { state -> Int? in
                guard !state.isCancelled, state.nextLane < lanes.count else { return nil }
                state.nextLane += 1
                state.lanesRunning += 1
                return state.nextLane - 1
            }
            if let lane {
                step(lane: lane, position: 0)
            } else {
                finishIfDone()
            }
        }

        /// Runs target `position` of `lane`, then the next one, then gives the lane up.
        private func step(lane: Int, position: Int) {
            let cancelled = state.withLockedValue { $0.isCancelled }
            guard position < lanes[lane].count, !cancelled else {
                state.withLockedValue { $0.lanesRunning -= 1 }
                nextLane()
                return
            }
            let index = lanes[lane][position]
            let loop = runner.group.next()
            let begin: @Sendable () -> Void = { [self] in
                // A start paced by --rate may come after an interrupt: then it does not start (the rest of the
                // lane is skipped).
                let (stopped, intentWritten) = state.withLockedValue { state -> (Bool, Bool) in
                    let written = state.intentWritten.remove(index) != nil
                    if state.isCancelled {
                        state.lanesRunning -= 1
                        return (true, written)
                    }
                    state.progress.inFlight += 1
                    return (false, written)
                }
                if stopped {
                    if intentWritten {  // never started after all: say so, or a resume would call it unknown
                        let target = targets[index]
                        _ = try? journal?.outcome(
                            DeviceResult(device: target.name, address: target.address, outcome: .skipped))
                    }
                    finishIfDone()
                    return
                }
                runner.converse(
                    with: targets[index], journal: journal, intentWritten: intentWritten, lean: lean, on: loop
                ) { [self] result, json in
                    let keep = keepingResults
                    let progress = state.withLockedValue { state in
                        if keep { state.results[index] = result } else { state.finished[index] = true }
                        state.progress.inFlight -= 1
                        state.progress.done += 1
                        if result.outcome == .ok { state.progress.ok += 1 }
                        return state.progress
                    }
                    onResult(index, result, json, progress)
                    if position + 1 < lanes[lane].count {
                        // Another inventory entry for the same address: give the device a moment to see the last
                        // connection close (single-session devices turn a second one away).
                        loop.scheduleTask(in: .milliseconds(100)) { self.step(lane: lane, position: position + 1) }
                    } else {
                        step(lane: lane, position: position + 1)
                    }
                }
            }
            if let delay = pacer.reserve() {
                loop.scheduleTask(in: TimeAmount(delay)) { begin() }
            } else {
                begin()
            }
        }

        private func finishIfDone() {
            let done = state.withLockedValue {
                state -> (CheckedContinuation<Finished, Never>, Finished)? in
                let exhausted = state.isCancelled || state.nextLane >= lanes.count
                guard exhausted, state.lanesRunning == 0, let continuation = state.continuation else { return nil }
                state.continuation = nil
                return (continuation, (state.results, state.finished))
            }
            if let (continuation, finished) = done { continuation.resume(returning: finished) }
        }
    }

    /// One device: intent, conversation (with retries where safe), outcome. `completion` runs on an event loop or
    /// on the lean exchanger's thread.
    fileprivate func converse(
        with target: RunTarget, journal: RunJournal?, intentWritten: Bool, lean: LeanExchanger?, on loop: any EventLoop,
        completion: @escaping @Sendable (DeviceResult, _ json: String?) -> Void
    ) {
        let began = ContinuousClock.now
        var client = configuration.client
        if let format = target.format { client.format = format }
        if let tls = target.tls { client.tls = tls }
        if let session = target.session { client.session = session }
        if let password = target.password { client.password = password }
        if let halfClose = target.halfClose { client.halfClose = halfClose }
        if configuration.stopOnError {
            let isError = configuration.isErrorReply
            client.stopAfterReply = { payload in
                isError(ByteEscapes.render(ByteEscapes.trimmingWhitespace(payload[...])))
            }
        }
        let address = DeviceAddress(host: target.host, port: target.port)
        let fresh = DeviceResult(device: target.name, address: target.address, outcome: .unknown)
        // Without the intent on record the device must not be sent anything.
        @Sendable func notSent(_ reason: String) -> DeviceResult {
            var skipped = fresh
            skipped.outcome = .skipped
            skipped.error = "not sent to device \(target.label): \(reason)"
            return skipped
        }
        let configuration = self.configuration
        let settings = client
        // The lean path for literal addresses and self-delimiting replies; DeviceClient for everything else.
        let leanAddress = LeanRequest.address(host: target.host, port: target.port, for: client)
        let onLean = lean != nil && leanAddress != nil
        // On the lean path the exchanger's thread writes the intents of the devices it starts together in one
        // write, before any of their first bytes; elsewhere the intent is written here.
        let leanIntent = onLean && !intentWritten ? journal.map { LeanIntent(journal: $0, device: target.name) } : nil
        if !intentWritten, leanIntent == nil {
            do {
                try journal?.intent(target.name)
            } catch {
                completion(notSent("\(error)"), nil)
                return
            }
        }
        let deviceClient = onLean ? nil : DeviceClient(configuration: settings, eventLoopGroup: group)
        let resolved = onLean ? nil : try? SocketAddress(ipAddress: target.host, port: target.port)
        @Sendable func attempt(_ number: Int) {
            let finished: @Sendable (AttemptResult) -> Void = { outcome in
                if let reason = outcome.notSent {
                    completion(notSent(reason), nil)
                    return
                }
                var result = fresh
                result.attempts = number
                result.replies = outcome.replies.map { $0.isAbsent ? Reply.absentText : $0.text }
                result.timings.connectMilliseconds = outcome.connectDuration.map(Self.milliseconds)
                if let error = outcome.error {
                    result.outcome = Outcome(error.code)
                    var named = error
                    named.device = target.label
                    result.error = named.description
                    let safe = result.outcome.isBeforeSending && !error.mayHaveDelivered
                    if number <= configuration.retries, safe || configuration.isIdempotent {
                        loop.scheduleTask(in: TimeAmount(self.backoff(attempt: number))) { attempt(number + 1) }
                        return
                    }
                } else {
                    result.outcome = result.replies.contains(where: configuration.isErrorReply) ? .errorReply : .ok
                }
                result.timings.totalMilliseconds = Self.milliseconds(ContinuousClock.now - began)
                // Rendered once, for the journal and for whoever prints the result.
                let json = (try? journal?.outcome(result)) ?? nil
                completion(result, json)
            }
            if let lean, let leanAddress {
                lean.submit(
                    .init(
                        address: leanAddress, device: target.address, commands: configuration.commands,
                        configuration: settings, intent: number == 1 ? leanIntent : nil, completion: finished))
            } else if let deviceClient {
                deviceClient.exchangeFuture(configuration.commands, with: address, resolved: resolved, on: loop)
                    .whenSuccess { exchange in
                        finished(
                            AttemptResult(exchange: exchange))
                    }
            }
        }
        attempt(1)
    }

    private func backoff(attempt: Int) -> Duration {
        let base = configuration.retryBackoff * (1 << min(attempt - 1, 10))
        return base * Double.random(in: 0.5...1.5)
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return (Double(seconds) * 1e3 + Double(attoseconds) / 1e15).rounded(toPlaces: 3)
    }
}

extension Double {
    fileprivate func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}

/// Spaces conversation starts `1/rate` apart.
final class Pacer: Sendable {
    private let interval: Duration?
    private let next = NIOLockedValueBox(ContinuousClock.now)

    init(ratePerSecond: Double?) { interval = ratePerSecond.map { .seconds(1 / max($0, 1e-6)) } }

    /// Whether starts are spaced at all (`--rate`).
    var isPacing: Bool { interval != nil }

    /// Reserves the next start slot; returns how long to wait for it, or `nil` to start now.
    func reserve() -> Duration? {
        guard let interval else { return nil }
        let now = ContinuousClock.now
        let slot = next.withLockedValue { next -> ContinuousClock.Instant in
            let slot = max(next, now)
            next = slot + interval
            return slot
        }
        return slot > now ? slot - now : nil
    }
}
