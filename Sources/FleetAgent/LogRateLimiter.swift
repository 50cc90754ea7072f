import Logging
import NIOConcurrencyHelpers

/// Keeps connection-level log lines (denied connections, failed handshakes) from filling a disk during a flood:
/// per kind, at most ``burst`` lines per ``window``; what is held back is counted and reported in one summary line
/// when the next window opens. Counters in ``AgentStats`` count every event regardless.
final class LogRateLimiter: Sendable {
    private struct Window {
        var start: ContinuousClock.Instant
        var logged = 0
        var suppressed = 0
    }

    let burst: Int
    let window: Duration
    private let now: @Sendable () -> ContinuousClock.Instant
    private let windows = NIOLockedValueBox<[String: Window]>([:])

    /// - Parameter now: the clock (injected by tests).
    init(
        burst: Int = 5, window: Duration = .seconds(10),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.burst = burst
        self.window = window
        self.now = now
    }

    /// Logs `message` at info level unless `kind` has used up its lines for this window.
    func info(
        _ logger: Logger, kind: String, _ message: @autoclosure () -> Logger.Message,
        metadata: @autoclosure () -> Logger.Metadata
    ) {
        guard logger.logLevel <= .info else { return }
        let now = self.now()
        let (allowed, summary) = windows.withLockedValue { windows -> (Bool, Int) in
            var current = windows[kind] ?? Window(start: now)
            var summary = 0
            if now - current.start >= window {
                summary = current.suppressed
                current = Window(start: now)
            }
            let allowed = current.logged < burst
            if allowed { current.logged += 1 } else { current.suppressed += 1 }
            windows[kind] = current
            return (allowed, summary)
        }
        if summary > 0 {
            logger.info(
                "similar events were not logged", metadata: ["event": "\(kind)", "suppressed": "\(summary)"])
        }
        if allowed { logger.info(message(), metadata: metadata()) }
    }
}
