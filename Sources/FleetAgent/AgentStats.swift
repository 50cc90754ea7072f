import Metrics
import Synchronization

/// The agent's counters: read live by the `STATS` builtin and mirrored into swift-metrics (and so into
/// Prometheus when the daemon exposes `--metrics`).
public final class AgentStats: Sendable {
    public struct Snapshot: Sendable, Hashable {
        public var connectionsOpen: Int
        public var connectionsTotal: Int
        public var connectionsRefused: Int
        public var frames: Int
        public var errorReplies: Int
        public var tooLarge: Int
        public var invalidBytes: Int
        public var frameTimeouts: Int
        public var idleTimeouts: Int
        public var garbageBytes: Int
        public var incompleteFrames: Int
        /// Commands refused by authorization (identity rules, exec on an exposed plaintext listener).
        public var forbidden: Int
        /// Connections closed at accept by the allow/deny lists.
        public var accessDenied: Int
        /// TLS handshakes that failed or timed out.
        public var tlsFailures: Int
    }

    private let open = Atomic<Int>(0)
    private let total = Atomic<Int>(0)
    private let refused = Atomic<Int>(0)
    private let frameCount = Atomic<Int>(0)
    private let errors = Atomic<Int>(0)
    private let oversize = Atomic<Int>(0)
    private let invalid = Atomic<Int>(0)
    private let slow = Atomic<Int>(0)
    private let idle = Atomic<Int>(0)
    private let garbage = Atomic<Int>(0)
    private let incomplete = Atomic<Int>(0)
    private let forbiddenCount = Atomic<Int>(0)
    private let denied = Atomic<Int>(0)
    private let tlsFailed = Atomic<Int>(0)

    private let openGauge = Gauge(label: "fleet_agent_connections_open")
    private let totalCounter = Counter(label: "fleet_agent_connections_total")
    private let refusedCounter = Counter(label: "fleet_agent_connections_refused_total")
    private let framesCounter = Counter(label: "fleet_agent_frames_total")
    private let garbageCounter = Counter(label: "fleet_agent_garbage_bytes_total")
    /// One counter per kind, made at start so that every series is there at zero before the first error.
    private let errorCounters: [ErrorKind: Counter] = Dictionary(
        uniqueKeysWithValues: ErrorKind.allCases.map {
            ($0, Counter(label: "fleet_agent_errors_total", dimensions: [("kind", $0.rawValue)]))
        })

    public init() {}

    public var snapshot: Snapshot {
        Snapshot(
            connectionsOpen: open.load(ordering: .relaxed), connectionsTotal: total.load(ordering: .relaxed),
            connectionsRefused: refused.load(ordering: .relaxed), frames: frameCount.load(ordering: .relaxed),
            errorReplies: errors.load(ordering: .relaxed), tooLarge: oversize.load(ordering: .relaxed),
            invalidBytes: invalid.load(ordering: .relaxed), frameTimeouts: slow.load(ordering: .relaxed),
            idleTimeouts: idle.load(ordering: .relaxed), garbageBytes: garbage.load(ordering: .relaxed),
            incompleteFrames: incomplete.load(ordering: .relaxed), forbidden: forbiddenCount.load(ordering: .relaxed),
            accessDenied: denied.load(ordering: .relaxed), tlsFailures: tlsFailed.load(ordering: .relaxed)
        )
    }

    func connectionOpened() {
        let now = open.add(1, ordering: .relaxed).newValue
        total.add(1, ordering: .relaxed)
        openGauge.record(now)
        totalCounter.increment()
    }

    func connectionClosed() {
        let now = open.subtract(1, ordering: .relaxed).newValue
        openGauge.record(now)
    }

    func connectionRefused() {
        refused.add(1, ordering: .relaxed)
        refusedCounter.increment()
    }

    func framesReceived(_ count: Int) {
        guard count > 0 else { return }
        frameCount.add(count, ordering: .relaxed)
        framesCounter.increment(by: count)
    }

    func garbageDiscarded(_ bytes: Int) {
        garbage.add(bytes, ordering: .relaxed)
        garbageCounter.increment(by: bytes)
    }

    /// Counts an error of `kind` (also as `fleet_agent_errors_total{kind=…}`).
    func error(_ kind: ErrorKind) {
        switch kind {
        case .errorReply: errors.add(1, ordering: .relaxed)
        case .tooLarge: oversize.add(1, ordering: .relaxed)
        case .invalidByte: invalid.add(1, ordering: .relaxed)
        case .frameTimeout: slow.add(1, ordering: .relaxed)
        case .idleTimeout: idle.add(1, ordering: .relaxed)
        case .incompleteFrame: incomplete.add(1, ordering: .relaxed)
        case .forbidden: forbiddenCount.add(1, ordering: .relaxed)
        case .accessDenied: denied.add(1, ordering: .relaxed)
        case .tlsHandshake: tlsFailed.add(1, ordering: .relaxed)
        }
        errorCounters[kind]?.increment()
    }

    enum ErrorKind: String, CaseIterable {
        case errorReply = "error_reply"
        case tooLarge = "too_large"
        case invalidByte = "invalid_byte"
        case frameTimeout = "frame_timeout"
        case idleTimeout = "idle_timeout"
        case incompleteFrame = "incomplete_frame"
        case forbidden
        case accessDenied = "access_denied"
        case tlsHandshake = "tls_handshake"
    }

    /// The one-line `STATS` reply.
    public var statsLine: String {
        let s = snapshot
        return "OK connections_open=\(s.connectionsOpen) connections_total=\(s.connectionsTotal) "
            + "connections_refused=\(s.connectionsRefused) frames=\(s.frames) error_replies=\(s.errorReplies) "
            + "too_large=\(s.tooLarge) invalid_bytes=\(s.invalidBytes) frame_timeouts=\(s.frameTimeouts) "
            + "idle_timeouts=\(s.idleTimeouts) garbage_bytes=\(s.garbageBytes) incomplete_frames=\(s.incompleteFrames) "
            + "forbidden=\(s.forbidden) access_denied=\(s.accessDenied) tls_failures=\(s.tlsFailures)"
    }
}
