import NIOConcurrencyHelpers

/// A live progress line on stderr (only when asked, normally on a terminal): done, ok, failed, in flight, rate,
/// ETA; redrawn at most ten times a second.
final class Progress: Sendable {
    let total: Int
    let live: Bool
    private let began = ContinuousClock.now
    private let lastDrawn = NIOLockedValueBox(ContinuousClock.now - .seconds(1))

    /// Whether the line is redrawn in place (`\r`, erase to the end of line).
    private let escapes = Console.stderrTakesEscapes

    init(total: Int, live: Bool) {
        self.total = total
        self.live = live
    }

    func update(_ done: Int, ok: Int, inFlight: Int) {
        guard live else { return }
        let draw = lastDrawn.withLockedValue { last in
            guard ContinuousClock.now - last >= .milliseconds(100) || done == total else { return false }
            last = .now
            return true
        }
        guard draw else { return }
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = Double(done) / max(seconds, 1e-3)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line =
            "[\(done)/\(total)] ok \(ok)  failed \(done - ok)  in flight \(inFlight)  \(Int(rate))/s  ETA \(Int(eta.rounded()))s"
        // `--progress` forced where escape sequences are not taken (TERM=dumb, a file): a plain line each time.
        Console.errRaw(escapes ? "\r" + line + "\u{1B}[K" : line + "\n")
    }

    func finish() { if live, escapes { Console.errRaw("\r\u{1B}[K") } }
}
