import NIOConcurrencyHelpers

/// A live progress line on stderr (only when asked, normally on a terminal): done, ok, failed, in flight, rate,
/// ETA; redrawn at most ten times a second.
final class Progress: Sendable {
    let total: Int
    let live: Bool
    private let began = ContinuousClock.now
    private let lastDrawn = NIOLockedValueBox(ContinuousClock.now - .seconds(1))

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
        Console.errRaw(
            "\r[\(done)/\(total)] ok \(ok)  failed \(done - ok)  in flight \(inFlight)  \(Int(rate))/s  ETA \(Int(eta.rounded()))s\u{1B}[K"
        )
    }

    func finish() { if live { Console.errRaw("\r\u{1B}[K") } }
}
