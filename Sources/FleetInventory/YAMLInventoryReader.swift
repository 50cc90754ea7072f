internal import Yams

/// Ansible's `yaml` inventory plugin: top-level groups, each a mapping of `hosts:`, `vars:` and `children:`.
struct YAMLInventoryReader {
    let path: String

    /// Reads `text` into `data`; throws when it is not a YAML inventory (the caller may then try INI, as Ansible).
    func read(_ text: String, into data: inout InventoryData) throws(InventoryError) {
        let root: Node?
        do {
            root = try YAMLValues.compose(text)
        } catch {
            throw InventoryError(path: path, line: error.line, message: error.text)
        }
        guard let root else { throw InventoryError(path: path, line: 0, message: "Parsed empty YAML file") }
        guard case .mapping(let top) = root else {
            if case .scalar(let scalar) = root, scalar.style == .plain, Tag.Name(rawValue: root.tag.rawValue) == .null {
                throw InventoryError(path: path, line: 0, message: "Parsed empty YAML file")
            }
            throw InventoryError(
                path: path, line: YAMLValues.line(root),
                message:
                    "YAML inventory has invalid structure, it should be a dictionary, got: \(YAMLValues.typeName(root))"
            )
        }
        let pairs = YAMLValues.namedPairs(top)
        if let plugin = pairs.first(where: { $0.name == "plugin" }),
            YAMLValues.value(plugin.value).isTruthy
        {
            throw InventoryError(
                path: path, line: YAMLValues.line(plugin.key),
                message: "inventory plugin configuration (plugin: \(YAMLValues.value(plugin.value).text)) is not "
                    + "supported; give fleetcmd the inventory itself (for example `ansible-inventory --list` output)")
        }
        var reader = State(path: path, data: data)
        for (name, key, value) in pairs { _ = try reader.group(name, key, value) }
        data = reader.data
    }

    private struct State {
        let path: String
        var data: InventoryData

        func fail(_ node: Node, _ message: String) -> InventoryError {
            InventoryError(path: path, line: YAMLValues.line(node), message: message)
        }

        mutating func group(_ name: String, _ key: Node, _ node: Node?) throws(InventoryError) -> String {
            let isNull = node.map { YAMLValues.value($0) == .null } ?? true
            let mapping: Node.Mapping?
            if case .mapping(let value) = node { mapping = value } else { mapping = nil }
            guard mapping != nil || isNull else {
                data.warnings.append("\(path): skipping '\(name)' as this is not a valid group definition")
                return name
            }
            guard YAMLValues.isText(key), !name.isEmpty else {
                throw fail(key, "Invalid group name supplied, expected a string but got '\(name)'")
            }
            data.addGroup(name)
            guard let mapping else { return name }
            let pairs = YAMLValues.namedPairs(mapping)
            for (key, _, section) in pairs where ["vars", "children", "hosts"].contains(key) {
                switch section {
                case .mapping: break
                case .scalar where YAMLValues.value(section) == .null: break
                case .scalar where YAMLValues.isText(section): break
                default:
                    throw fail(
                        section,
                        "Invalid \"\(key)\" entry for \"\(name)\" group, requires a "
                            + "dictionary, found \"\(YAMLValues.typeName(section))\" instead.")
                }
            }
            for (key, _, section) in pairs {
                // A string stands for a mapping with that one key (`hosts: web1`).
                var entries: [(name: String, key: Node, value: Node?)]
                switch section {
                case .mapping(let inner):
                    entries = YAMLValues.namedPairs(inner).map { ($0.name, $0.key, Optional($0.value)) }
                case .scalar where ["vars", "children", "hosts"].contains(key) && YAMLValues.isText(section):
                    entries = [(YAMLValues.keyText(section), section, nil)]
                case .scalar where YAMLValues.value(section) == .null:
                    continue
                default:
                    data.warnings.append(
                        "\(path): skipping key (\(key)) in group (\(name)) as it is not a mapping, it is a "
                            + YAMLValues.typeName(section))
                    continue
                }
                switch key {
                case "vars":
                    for (variableName, variable, value) in entries {
                        do {
                            try data.setVariable(name, variableName, value.map(YAMLValues.value) ?? .null)
                        } catch {
                            throw fail(variable, error.text)
                        }
                    }
                case "children":
                    for (childName, childKey, childNode) in entries {
                        let child = try group(childName, childKey, childNode)
                        do { try data.addChild(name, child) } catch { throw fail(childKey, error.text) }
                    }
                case "hosts":
                    for (hostName, hostKey, hostNode) in entries {
                        guard YAMLValues.isText(hostKey) else {
                            throw fail(
                                hostKey,
                                "Host pattern \(hostName) must be a string. Enclose integers/floats "
                                    + "in quotation marks.")
                        }
                        let expanded: (names: [String], port: Int?)
                        switch HostAddress.expand(hostName) {
                        case .success(let value): expanded = value
                        case .failure(let problem): throw fail(hostKey, problem.text)
                        }
                        let variables: [(name: String, key: Node, value: Node)]
                        switch hostNode {
                        case .some(.mapping(let inner)): variables = YAMLValues.namedPairs(inner)
                        case .some(let other) where YAMLValues.value(other).isTruthy:
                            throw fail(
                                other,
                                "Invalid data from file, expected dictionary and got: " + YAMLValues.value(other).text)
                        default:
                            variables = []
                        }
                        for host in expanded.names {
                            do {
                                try data.addHost(host, group: name, port: expanded.port)
                                for (variable, _, value) in variables {
                                    try data.setVariable(host, variable, YAMLValues.value(value))
                                }
                            } catch {
                                throw fail(hostKey, error.text)
                            }
                        }
                    }
                default:
                    data.warnings.append(
                        "\(path): skipping unexpected key (\(key)) in group (\(name)), only \"vars\", \"children\" "
                            + "and \"hosts\" are valid")
                }
            }
            return name
        }
    }
}

extension InventoryValue {
    /// Python's truth value.
    var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let value): return value
        case .int(let value): return value != 0
        case .double(let value): return value != 0
        case .string(let value): return !value.isEmpty
        case .list(let value): return !value.isEmpty
        case .map(let value): return !value.isEmpty
        }
    }
}
