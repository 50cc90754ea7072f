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
    private let group: any EventLoopGroup

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
        // Targets that share an address run one after another, on one task: a device gets one connection at a time.
        var lanes: [[Int]] = []
        var laneOf: [String: Int] = [:]
        for (index, target) in targets.enumerated() {
            if let lane = laneOf[target.address] {
                lanes[lane].append(index)
            } else {
                laneOf[target.address] = lanes.count
                lanes.append([index])
            }
        }
        let results = NIOLockedValueBox([DeviceResult?](repeating: nil, count: targets.count))
        let counters = NIOLockedValueBox(Progress(total: targets.count, done: 0, ok: 0, inFlight: 0))
        let pacer = Pacer(ratePerSecond: configuration.ratePerSecond)
        await withTaskGroup(of: Void.self) { tasks in
            var next = 0
            func startLane() {
                let lane = lanes[next]
                next += 1
                tasks.addTask {
                    for index in lane {
                        let target = targets[index]
                        guard !Task.isCancelled else { return }
                        await pacer.wait()
                        guard !Task.isCancelled else { return }
                        counters.withLockedValue { $0.inFlight += 1 }
                        let result = await converse(with: target, journal: journal)
                        results.withLockedValue { $0[index] = result }
                        let progress = counters.withLockedValue { progress in
                            progress.inFlight -= 1
                            progress.done += 1
                            if result.outcome == .ok { progress.ok += 1 }
                            return progress
                        }
                        onResult(result, progress)
                    }
                }
            }
            while next < min(max(1, configuration.forks), lanes.count) { startLane() }
            while await tasks.next() != nil {
                if next < lanes.count, !Task.isCancelled { startLane() }
            }
        }
        let finished = results.withLockedValue { $0 }
        return targets.enumerated().map { index, target in
            finished[index] ?? DeviceResult(device: target.name, address: target.address, outcome: .skipped)
        }
    }

    /// One device: intent, conversation (with retries where safe), outcome.
    private func converse(with target: RunTarget, journal: RunJournal?) async -> DeviceResult {
        let began = ContinuousClock.now
        var client = configuration.client
        if let format = target.format { client.format = format }
        if configuration.stopOnError {
            let isError = configuration.isErrorReply
            client.stopAfterReply = { payload in
                isError(ByteEscapes.render(ByteEscapes.trimmingWhitespace(payload[...])))
            }
        }
        let deviceClient = DeviceClient(configuration: client, eventLoopGroup: group)
        let address = DeviceAddress(host: target.host, port: target.port)
        let resolved = try? SocketAddress(ipAddress: target.host, port: target.port)
        var result = DeviceResult(device: target.name, address: target.address, outcome: .unknown)
        do {
            try journal?.intent(target.name)
        } catch {
            // Without the intent on record the device must not be sent anything.
            result.outcome = .skipped
            result.error = "not sent to device \(target.address): \(error)"
            return result
        }
        var attempt = 0
        while true {
            attempt += 1
            let exchange = await deviceClient.exchange(configuration.commands, with: address, resolved: resolved)
            result.attempts = attempt
            result.replies = exchange.replies.map(\.text)
            result.timings.connectMilliseconds = exchange.connectDuration.map(Self.milliseconds)
            if let error = exchange.error {
                result.outcome = Outcome(error.code)
                result.error = error.description
                let safe = result.outcome.isBeforeSending && !error.mayHaveDelivered
                if attempt <= configuration.retries, safe || configuration.isIdempotent, !Task.isCancelled {
                    try? await Task.sleep(for: backoff(attempt: attempt))
                    continue
                }
            } else {
                result.error = nil
                result.outcome = result.replies.contains(where: configuration.isErrorReply) ? .errorReply : .ok
            }
            break
        }
        result.timings.totalMilliseconds = Self.milliseconds(ContinuousClock.now - began)
        try? journal?.outcome(result)
        return result
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

    func wait() async {
        guard let interval else { return }
        let slot = next.withLockedValue { next -> ContinuousClock.Instant in
            let slot = max(next, .now)
            next = slot + interval
            return slot
        }
        if slot > .now { try? await Task.sleep(until: slot, clock: .continuous) }
    }
}
