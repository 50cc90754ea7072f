#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One way a simulated device misbehaves on purpose.
public enum Fault: Sendable, Hashable, CustomStringConvertible {
    /// The port is closed: connections are refused.
    case refuse
    /// Accepts connections but never reads from them.
    case neverRead
    /// Reads every command but never answers.
    case neverReply
    /// Answers after a delay.
    case latency(Latency)
    /// Sends each reply `bytes` bytes at a time, `every` apart.
    case drip(bytes: Int, every: Duration)
    /// Sends half of the reply, then resets the connection (RST).
    case resetMidReply
    /// Sends the reply without its terminator, then closes (FIN).
    case closeBeforeTerminator
    /// Answers with random bytes (never the terminator) instead of the reply.
    case garbage
    /// Answers with a reply of `bytes` bytes.
    case oversized(bytes: Int)
    /// Sends the reply without its terminator and keeps the connection open.
    case missingTerminator
    /// Drops the reply and closes when the client half-closes (sends FIN) after its commands.
    case finIntolerant
    /// Refuses a second concurrent connection (accepts it, then closes it at once).
    case singleSession
    /// The port opens and closes in turn: up for `up`, down (refusing) for `down`.
    case flapping(up: Duration, down: Duration)

    /// The fault's name, as in profiles and `--fault`.
    public var kind: String {
        switch self {
        case .refuse: "refuse"
        case .neverRead: "never-read"
        case .neverReply: "never-reply"
        case .latency: "latency"
        case .drip: "drip"
        case .resetMidReply: "reset-mid-reply"
        case .closeBeforeTerminator: "close-before-terminator"
        case .garbage: "garbage"
        case .oversized: "oversized"
        case .missingTerminator: "missing-terminator"
        case .finIntolerant: "fin-intolerant"
        case .singleSession: "single-session"
        case .flapping: "flapping"
        }
    }

    /// Every fault name.
    public static let kinds = [
        "refuse", "never-read", "never-reply", "latency", "drip", "reset-mid-reply", "close-before-terminator",
        "garbage", "oversized", "missing-terminator", "fin-intolerant", "single-session", "flapping",
    ]

    public var description: String { kind }
}

/// How long a device takes to answer.
public enum Latency: Sendable, Hashable {
    /// Always this long.
    case fixed(Duration)
    /// Uniformly between the two.
    case uniform(Duration, Duration)
    /// Log-normal (long-tailed): half the replies take less than `median`, 1 % more than `p99`.
    case longTail(median: Duration, p99: Duration)

    /// One delay, drawn from `generator`.
    public func sample(using generator: inout some RandomNumberGenerator) -> Duration {
        switch self {
        case .fixed(let delay):
            return delay
        case .uniform(let low, let high):
            let (a, b) = (Self.seconds(low), Self.seconds(high))
            return .seconds(Double.random(in: min(a, b)...max(a, b), using: &generator))
        case .longTail(let median, let p99):
            // ln(delay) ~ N(mu, sigma): the median is e^mu and the 99th percentile e^(mu + 2.326 sigma).
            let mu = log(max(Self.seconds(median), 1e-6))
            let sigma = max(0, log(max(Self.seconds(p99), 1e-6)) - mu) / 2.326_347_874
            // Box–Muller.
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator)
            let u2 = Double.random(in: 0..<1, using: &generator)
            let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            return .seconds(min(exp(mu + sigma * normal), 3600))
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A fault and which devices have it: a share of the fleet drawn from the seed, or listed devices.
public struct FaultRule: Sendable, Hashable {
    public var fault: Fault
    /// The probability that a device has this fault (0...1), drawn per device from the fleet's seed.
    public var rate: Double
    /// Device numbers (1-based, as in their names) that have this fault whatever the rate.
    public var devices: [ClosedRange<Int>]

    public init(fault: Fault, rate: Double = 0, devices: [ClosedRange<Int>] = []) {
        self.fault = fault
        self.rate = rate
        self.devices = devices
    }
}

/// SplitMix64: a small, fast, seedable generator; the same seed gives the same fault assignment everywhere.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Which fault, if any, each device has.
///
/// A device's draw depends only on the seed and its number, never on the fleet's size or how it is split
/// across processes: device 17 of a seed-7 fleet has the same fault in a fleet of 100 or of 50,000. Rules are
/// tried in order and the first that selects a device wins, so a device has at most one fault.
public struct FaultPlan: Sendable {
    public let rules: [FaultRule]
    /// Per device (0-based index into the fleet), the rule index + 1, or 0 for none.
    let assignment: [UInt8]
    let first: Int

    /// Assigns faults to devices `first ..< first + count` (0-based) of a fleet drawn from `seed`.
    public init(rules: [FaultRule], seed: UInt64, first: Int = 0, count: Int) {
        precondition(rules.count < 255, "at most 254 fault rules")
        self.rules = rules
        self.first = first
        var assignment = [UInt8](repeating: 0, count: count)
        for offset in 0..<count {
            let number = first + offset + 1
            var generator = SplitMix64(seed: seed ^ (UInt64(number) &* 0xD1B5_4A32_D192_ED03))
            for (ruleIndex, rule) in rules.enumerated() {
                let draw = Double(generator.next() >> 11) / Double(1 << 53)
                if rule.devices.contains(where: { $0.contains(number) }) || draw < rule.rate {
                    assignment[offset] = UInt8(ruleIndex + 1)
                    break
                }
            }
        }
        self.assignment = assignment
    }

    /// The fault of device `index` (0-based, within this plan's devices).
    public func fault(ofLocal index: Int) -> Fault? {
        let rule = assignment[index]
        return rule == 0 ? nil : rules[Int(rule) - 1].fault
    }
}
