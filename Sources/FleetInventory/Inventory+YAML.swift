import Foundation
import Yams

/// Ansible's YAML format: `all:` (or any top-level group) with `hosts:`, `vars:` and `children:`.
struct YAMLInventoryReader {
    let path: String

    private struct State {
        var groups: [String: Inventory.Group] = [:]
        var order: [String] = []
        var seen = Set<String>()
        var hostVariables: [String: [String: String]] = [:]
    }

    func read(_ text: String) throws(InventoryError) -> Inventory {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            var line = 0
            if case .scanner(_, _, let mark, _) = error { line = mark.line }
            if case .parser(_, _, let mark, _) = error { line = mark.line }
            throw InventoryError(path: path, line: line, message: "not valid YAML")
        } catch {
            throw InventoryError(path: path, line: 0, message: "not valid YAML")
        }
        var state = State()
        if let root {
            guard case .mapping(let top) = root else {
                throw InventoryError(
                    path: path, line: root.mark?.line ?? 0, message: "an inventory must be a mapping of groups (all: …)"
                )
            }
            for (key, value) in top {
                guard let name = key.string else { throw fail(key, "group names must be text") }
                try readGroup(name, value, into: &state)
            }
        }
        return Inventory(groups: state.groups, hostOrder: state.order, hostVariables: state.hostVariables)
    }

    private func fail(_ node: Node, _ message: String) -> InventoryError {
        InventoryError(path: path, line: node.mark?.line ?? 0, message: message)
    }

    private func readGroup(_ name: String, _ node: Node, into state: inout State) throws(InventoryError) {
        if state.groups[name] == nil { state.groups[name] = Inventory.Group(name: name) }
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" {
            return
        }
        guard case .mapping(let mapping) = node else {
            throw fail(node, "group '\(name)' must be a mapping (hosts:, vars:, children:)")
        }
        for (key, value) in mapping {
            switch key.string ?? "" {
            case "hosts":
                if case .scalar = value { continue }  // hosts: with nothing under it
                guard case .mapping(let hosts) = value else {
                    throw fail(value, "hosts: must be a mapping of host names")
                }
                for (hostKey, hostValue) in hosts {
                    guard let text = hostKey.string else { throw fail(hostKey, "host names must be text") }
                    let (pattern, port) = Inventory.splitPort(text)
                    var variables = try self.variables(hostValue, allowEmpty: true)
                    if let port { variables["fleetcmd_port"] = port }
                    let names: [String]
                    switch HostRange.expand(pattern) {
                    case .success(let value): names = value
                    case .failure(let problem): throw fail(hostKey, problem.text)
                    }
                    for host in names {
                        if state.seen.insert(host).inserted { state.order.append(host) }
                        state.hostVariables[host, default: [:]].merge(variables) { _, new in new }
                        if !state.groups[name]!.hosts.contains(host) { state.groups[name]!.hosts.append(host) }  // created above
                    }
                }
            case "vars":
                state.groups[name]!.variables.merge(try variables(value, allowEmpty: true)) { _, new in new }
            case "children":
                if case .scalar = value { continue }
                guard case .mapping(let children) = value else {
                    throw fail(value, "children: must be a mapping of group names")
                }
                for (childKey, childValue) in children {
                    guard let child = childKey.string else { throw fail(childKey, "group names must be text") }
                    if !state.groups[name]!.children.contains(child) { state.groups[name]!.children.append(child) }
                    try readGroup(child, childValue, into: &state)
                }
            case let other:
                throw fail(key, "unknown key '\(other)' in group '\(name)' (expected hosts, vars, children)")
            }
        }
    }

    private func variables(_ node: Node, allowEmpty: Bool) throws(InventoryError) -> [String: String] {
        if case .scalar(let scalar) = node, allowEmpty,
            scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null"
        {
            return [:]
        }
        guard case .mapping(let mapping) = node else { throw fail(node, "variables must be a mapping of name: value") }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw fail(key, "variable names must be text") }
            switch value {
            case .scalar(let scalar): result[name] = scalar.string
            default:
                result[name] = (try? Yams.serialize(node: value).trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
            }
        }
        return result
    }
}
