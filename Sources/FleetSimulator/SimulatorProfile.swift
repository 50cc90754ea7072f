public import FleetAgent
public import FleetAgentConfig
import FleetFraming
import Foundation
import Yams

/// How every device of a simulated fleet behaves: the agent's framing, limits and command table, per-device
/// state, and faults.
///
/// ```yaml
/// preset: esc-cr                       # any agent setting but listen: (the fleet sets the addresses)
/// commands:
///   - {name: ID, reply: "{device} #{index}"}
/// state: true                          # SET key value / GET key / INCR key, per device (default true)
/// faults:
///   - {kind: refuse, rate: 0.01}
///   - {kind: latency, rate: 0.05, median: 20ms, p99: 800ms}   # or fixed: 200ms, or min:/max:
///   - {kind: drip, devices: [3, "10-12"], bytes: 1, every: 20ms}
///   - {kind: oversized, rate: 0.001, bytes: 2MiB}
///   - {kind: flapping, rate: 0.01, up: 5s, down: 2s}
/// ```
public struct SimulatorProfile: Sendable {
    /// Framing and limits (`listen` is ignored: the fleet's addressing decides it).
    public var configuration: DeviceAgent.Configuration
    /// The command table; `{device}` and `{index}` in static replies become the device's name and number.
    public var router: CommandRouter
    /// Whether devices answer `SET`, `GET` and `INCR` with per-device state.
    public var state: Bool
    public var faults: [FaultRule]

    /// The default: the agent's builtins, `ID`, per-device state, no faults, and limits a fleet needs (no
    /// per-source limit: every simulated device is reached from the same loopback address).
    public init(
        configuration: DeviceAgent.Configuration = SimulatorProfile.defaultConfiguration,
        router: CommandRouter = SimulatorProfile.defaultRouter, state: Bool = true, faults: [FaultRule] = []
    ) {
        self.configuration = configuration
        self.router = router
        self.state = state
        self.faults = faults
    }

    public static var defaultConfiguration: DeviceAgent.Configuration {
        var configuration = DeviceAgent.Configuration(shutdownGracePeriod: .seconds(2))
        configuration.limits.maxConnectionsPerSource = Int.max
        configuration.limits.maxConnections = Int.max
        return configuration
    }

    public static var defaultRouter: CommandRouter {
        var router = CommandRouter.builtins
        router.on("ID", reply: "{device} #{index}")
        return router
    }

    /// Reads a profile file; problems are reported together, with line numbers.
    public static func load(path: String) throws(AgentConfigFile.LoadError) -> SimulatorProfile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AgentConfigFile.LoadError(path: path, problems: [.init(line: 0, message: "cannot read the file")])
        }
        return try parse(String(decoding: data, as: UTF8.self), path: path)
    }

    public static func parse(
        _ yaml: String, path: String = "<profile>"
    ) throws(AgentConfigFile.LoadError)
        -> SimulatorProfile
    {
        var faults: [FaultRule] = []
        var state = true
        var file = try AgentConfigFile.parse(
            yaml, path: path, base: defaultConfiguration,
            extraSections: [
                "faults": { node, problems in faults = FaultReader.rules(node, problems: &problems) },
                "state": { node, problems in
                    if let flag = node.bool {
                        state = flag
                    } else {
                        problems.append(.init(line: node.line, message: "state must be true or false"))
                    }
                },
            ])
        file.router.on("ID", reply: "{device} #{index}")
        return SimulatorProfile(configuration: file.configuration, router: file.router, state: state, faults: faults)
    }

    /// A fault from the command line: `KIND=RATE` (`refuse=0.01`), with each kind's default parameters.
    public static func rule(flag text: String) throws(SimulatorError) -> FaultRule {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let rate = Double(parts[1]), (0...1).contains(rate) else {
            throw SimulatorError("--fault \(text): expected KIND=RATE with a rate from 0 to 1, e.g. refuse=0.01")
        }
        guard let fault = FaultReader.defaultFault(parts[0]) else {
            throw SimulatorError(
                "--fault \(text): unknown fault '\(parts[0])' (one of \(Fault.kinds.joined(separator: ", ")))")
        }
        return FaultRule(fault: fault, rate: rate)
    }
}

/// A problem with a simulated fleet's settings.
public struct SimulatorError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

enum FaultReader {
    static func defaultFault(_ kind: String) -> Fault? {
        switch kind {
        case "refuse": .refuse
        case "never-read": .neverRead
        case "never-reply": .neverReply
        case "latency": .latency(.longTail(median: .milliseconds(20), p99: .milliseconds(500)))
        case "drip": .drip(bytes: 1, every: .milliseconds(10))
        case "reset-mid-reply": .resetMidReply
        case "close-before-terminator": .closeBeforeTerminator
        case "garbage": .garbage
        case "oversized": .oversized(bytes: 2 << 20)
        case "missing-terminator": .missingTerminator
        case "fin-intolerant": .finIntolerant
        case "single-session": .singleSession
        case "flapping": .flapping(up: .seconds(5), down: .seconds(2))
        default: nil
        }
    }

    static func rules(_ node: ConfigNode, problems: inout [AgentConfigFile.Problem]) -> [FaultRule] {
        guard let items = node.items else {
            problems.append(.init(line: node.line, message: "faults must be a list"))
            return []
        }
        return items.compactMap { rule($0, problems: &problems) }
    }

    private static func rule(_ node: ConfigNode, problems: inout [AgentConfigFile.Problem]) -> FaultRule? {
        func problem(_ node: ConfigNode, _ message: String) {
            problems.append(.init(line: node.line, message: message))
        }
        guard let mapping = node.entries else {
            problem(node, "a fault must be a mapping with kind: and rate: or devices:")
            return nil
        }
        var values: [String: ConfigNode] = [:]
        for (key, value) in mapping { values[key.string ?? ""] = value }
        let before = problems.count
        func duration(_ key: String) -> Duration? {
            guard let node = values[key] else { return nil }
            guard let text = node.string, let value = try? DurationText.parse(text) else {
                problem(node, "\(key) must be a duration such as 200ms or 2s")
                return nil
            }
            return value
        }
        func size(_ key: String) -> Int? {
            guard let node = values[key] else { return nil }
            guard let text = node.string, let value = try? ByteCount.parse(text), value > 0 else {
                problem(node, "\(key) must be a positive size such as 64 or 2MiB")
                return nil
            }
            return value
        }
        guard let kindNode = values["kind"], let kind = kindNode.string else {
            problem(node, "a fault needs kind: (one of \(Fault.kinds.joined(separator: ", ")))")
            return nil
        }
        guard var fault = defaultFault(kind) else {
            problem(kindNode, "unknown fault kind '\(kind)' (one of \(Fault.kinds.joined(separator: ", ")))")
            return nil
        }
        var allowed: Set<String> = ["kind", "rate", "devices"]
        switch kind {
        case "latency":
            allowed.formUnion(["fixed", "min", "max", "median", "p99"])
            if let fixed = duration("fixed") {
                fault = .latency(.fixed(fixed))
            } else if values["min"] != nil || values["max"] != nil {
                fault = .latency(.uniform(duration("min") ?? .zero, duration("max") ?? .zero))
            } else if values["median"] != nil || values["p99"] != nil {
                let median = duration("median") ?? .milliseconds(20)
                fault = .latency(.longTail(median: median, p99: duration("p99") ?? median * 10))
            }
        case "drip":
            allowed.formUnion(["bytes", "every"])
            fault = .drip(bytes: size("bytes") ?? 1, every: duration("every") ?? .milliseconds(10))
        case "oversized":
            allowed.insert("bytes")
            fault = .oversized(bytes: size("bytes") ?? 2 << 20)
        case "flapping":
            allowed.formUnion(["up", "down"])
            fault = .flapping(up: duration("up") ?? .seconds(5), down: duration("down") ?? .seconds(2))
        default: break
        }
        for (key, value) in mapping where !allowed.contains(key.string ?? "") {
            problem(
                key,
                "unknown setting '\(key.string ?? "")' for a \(kind) fault (expected \(allowed.sorted().joined(separator: ", ")))"
            )
            _ = value
        }
        var rate = 0.0
        if let node = values["rate"] {
            if let value = node.float, (0...1).contains(value) {
                rate = value
            } else {
                problem(node, "rate must be a number from 0 to 1")
            }
        }
        var devices: [ClosedRange<Int>] = []
        if let node = values["devices"] {
            if let items = node.items {
                for item in items {
                    if let range = deviceRange(item.string ?? "") {
                        devices.append(range)
                    } else {
                        problem(item, "devices: expected device numbers (from 1) or ranges like 10-20")
                    }
                }
            } else {
                problem(node, "devices must be a list of device numbers or ranges like 10-20")
            }
        }
        if values["rate"] == nil, values["devices"] == nil {
            problem(node, "a \(kind) fault needs rate: or devices:")
        }
        return problems.count == before ? FaultRule(fault: fault, rate: rate, devices: devices) : nil
    }

    static func deviceRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", maxSplits: 1).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        switch parts.count {
        case 1: if let low = parts[0], low >= 1 { return low...low }
        case 2: if let low = parts[0], let high = parts[1], low >= 1, high >= low { return low...high }
        default: break
        }
        return nil
    }
}
