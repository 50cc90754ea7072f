import FleetFraming
import Yams

/// One value of a configuration file, with the line it is on: what a section reader of a file that embeds an agent
/// configuration (the simulator's `faults:`) sees. YAML's own types stay inside this module.
public struct ConfigNode {
    let node: Node

    init(_ node: Node) { self.node = node }

    /// The 1-based line the value starts on (0 when unknown).
    public var line: Int { node.mark?.line ?? 0 }

    /// The value as text, when it is a single value (a scalar).
    public var string: String? { node.string }

    /// Whether it is a single value (not a list or a mapping).
    public var isScalar: Bool { node.scalar != nil }

    /// `true`/`false` (YAML 1.1 spellings included), or `nil`.
    public var bool: Bool? { node.bool }

    /// A number, or `nil`.
    public var float: Double? { node.float }

    /// A whole number (YAML 1.1 forms, overflow refused), or `nil`.
    public var integer: Int? { node.scalar.flatMap { YAMLInteger.parse($0.string) } }

    /// The items, when it is a list.
    public var items: [ConfigNode]? {
        guard case .sequence(let sequence) = node else { return nil }
        return sequence.map(ConfigNode.init)
    }

    /// The entries in file order, when it is a mapping.
    public var entries: [(key: ConfigNode, value: ConfigNode)]? {
        guard case .mapping(let mapping) = node else { return nil }
        return mapping.map { (ConfigNode($0.key), ConfigNode($0.value)) }
    }
}
