/// The keys one mapping of the configuration file accepts, each with its reader. Defined once per mapping, so the
/// list in an unknown key's problem ("unknown limit 'x' (expected max_frame, …)") is always what is read.
struct ConfigKeys<Target>: Sendable {
    typealias Read = @Sendable (inout ConfigReader, ConfigNode, inout Target) -> Void

    /// How an unknown key is named: `{ "unknown limit '\($0)'" }`.
    let unknown: @Sendable (String) -> String
    let keys: [(name: String, read: Read)]

    init(unknown: @escaping @Sendable (String) -> String, _ keys: [(name: String, read: Read)]) {
        self.unknown = unknown
        self.keys = keys
    }

    /// Hands each entry of `entries` to its key's reader; an unknown key is a problem on its line. `more` keys
    /// (read elsewhere) are accepted and listed too.
    func read(
        _ entries: [(key: ConfigNode, value: ConfigNode)], into target: inout Target, with reader: inout ConfigReader,
        more: [String: (ConfigNode, inout [AgentConfigFile.Problem]) -> Void] = [:]
    ) {
        for (keyNode, value) in entries {
            let key = keyNode.string ?? ""
            if let entry = keys.first(where: { $0.name == key }) {
                entry.read(&reader, value, &target)
            } else if let extra = more[key] {
                extra(value, &reader.problems)
            } else {
                let expected = keys.map(\.name) + more.keys.sorted()
                reader.problem(keyNode, "\(unknown(key)) (expected \(expected.joined(separator: ", ")))")
            }
        }
    }
}
