/// A fleet as Ansible sees it: hosts, groups (nested with children) and variables, read from the sources
/// `ansible -i` takes (``load(sources:)``) with Ansible's rules, so that fleetcmd selects the same devices, in the
/// same order, with the same variables.
///
/// Variables are resolved as Ansible's `VariableManager` does for inventory variables, lowest first: `all`'s, then
/// every group of the host sorted by depth, `ansible_group_priority` and name, then `group_vars/all`, then
/// `group_vars/GROUP` in that same order, then the host's own, then `host_vars/HOST`.
public struct Inventory: Sendable {
    /// One host with its variables resolved.
    public struct Host: Sendable, Hashable {
        public var name: String
        /// Every variable with its type (as `ansible-inventory --host NAME` prints them).
        public var values: [String: InventoryValue]
        /// The groups the host belongs to, directly or through children, `all` excluded, sorted.
        public var groups: [String]
        /// The port written with the host's own entry (`name:port`), which Ansible stores as `ansible_port`.
        public var entryPort: Int?

        /// Each variable as text (``InventoryValue/text``), which is how fleetcmd's settings read them.
        public var variables: [String: String] { values.mapValues(\.text) }

        public init(name: String, values: [String: InventoryValue] = [:], groups: [String] = [], entryPort: Int? = nil)
        {
            self.name = name
            self.values = values
            self.groups = groups
            self.entryPort = entryPort
        }
    }

    let data: InventoryData
    let varsFiles: VarsFiles
    /// Each group's variables from group_vars, per source folder; read once.
    private let groupFileVariables: [[[String: InventoryValue]]]

    /// What Ansible would warn about, and what fleetcmd reads differently on purpose (each a line for stderr).
    public var warnings: [String] { data.warnings }

    init(data: InventoryData, varsDirectories: [String]) throws(InventoryError) {
        self.data = data
        self.varsFiles = VarsFiles(directories: varsDirectories)
        var perGroup: [[[String: InventoryValue]]] = []
        if !varsFiles.isEmpty {
            for group in data.groups { perGroup.append(try varsFiles.group(group.name)) }
        }
        groupFileVariables = perGroup
    }

    /// Every host, in the order Ansible's inventory holds them (the order sources first name them).
    public var hostNames: [String] { data.hosts.map(\.name) }

    /// Every group, in the order they were first named (`all` and `ungrouped` first).
    public var groupNames: [String] { data.groups.map(\.name) }

    public var hostCount: Int { data.hosts.count }

    /// The host named `name`, with its variables resolved.
    public func host(named name: String) throws(InventoryError) -> Host? {
        guard let index = data.hostIndex[name] else { return nil }
        return try host(at: index)
    }

    func host(at index: Int) throws(InventoryError) -> Host {
        var layers: [[Int]: GroupLayer] = [:]
        return try host(at: index, layers: &layers)
    }

    /// The hosts named, in that order (unknown names left out), with variables resolved; hosts in the same
    /// groups share the work of merging their groups' variables.
    public func hosts(named names: [String]) throws(InventoryError) -> [Host] {
        var layers: [[Int]: GroupLayer] = [:]
        var result: [Host] = []
        result.reserveCapacity(names.count)
        for name in names {
            guard let index = data.hostIndex[name] else { continue }
            result.append(try host(at: index, layers: &layers))
        }
        return result
    }

    /// The hosts a pattern selected, in order, with variables resolved.
    public func hosts(in selection: HostPattern.Selection) throws(InventoryError) -> [Host] {
        var layers: [[Int]: GroupLayer] = [:]
        var result: [Host] = []
        result.reserveCapacity(selection.indices.count)
        for index in selection.indices { result.append(try host(at: index, layers: &layers)) }
        return result
    }

    /// What a host's groups contribute: their variables merged in Ansible's order, and their names.
    struct GroupLayer {
        var values: [String: InventoryValue]
        var names: [String]
    }

    private func host(at index: Int, layers: inout [[Int]: GroupLayer]) throws(InventoryError) -> Host {
        let key = data.hosts[index].groups.sorted()
        let layer: GroupLayer
        if let cached = layers[key] {
            layer = cached
        } else {
            layer = groupLayer(memberOf: data.groupsOf(host: index))
            layers[key] = layer
        }
        // The host's own variables win; merged into whichever side is larger (a million hosts with a few
        // variables each and groups with none are the common shape).
        let own = data.hosts[index].variables
        var values: [String: InventoryValue]
        if own.count >= layer.values.count {
            values = own
            if !layer.values.isEmpty { values.merge(layer.values) { mine, _ in mine } }
        } else {
            values = layer.values
            values.merge(own) { _, new in new }
        }
        if !varsFiles.isEmpty {
            for file in try varsFiles.host(data.hosts[index].name) { values.merge(file) { _, new in new } }
        }
        return Host(
            name: data.hosts[index].name, values: values, groups: layer.names, entryPort: data.hosts[index].port)
    }

    private func groupLayer(memberOf: Set<Int>) -> GroupLayer {
        let sorted = memberOf.filter { $0 != InventoryData.all }.sorted { lhs, rhs in
            let left = data.groups[lhs]
            let right = data.groups[rhs]
            if left.depth != right.depth { return left.depth < right.depth }
            if left.priority != right.priority { return left.priority < right.priority }
            return InventoryValue.pythonOrder(left.name, right.name)
        }
        var values = data.groups[InventoryData.all].variables
        for group in sorted { values.merge(data.groups[group].variables) { _, new in new } }
        if !groupFileVariables.isEmpty {
            for file in groupFileVariables[InventoryData.all] { values.merge(file) { _, new in new } }
            for source in 0..<groupFileVariables[InventoryData.all].count {
                for group in sorted { values.merge(groupFileVariables[group][source]) { _, new in new } }
            }
        }
        return GroupLayer(values: values, names: sorted.map { data.groups[$0].name }.sorted())
    }

    /// The hosts of `group` and its descendants, in Ansible's order (`Group.get_hosts()`); empty for no such group.
    public func hostNames(inGroup group: String) -> [String] {
        guard let index = data.groupIndex[group] else { return [] }
        return data.hostsOf(group: index).map { data.hosts[$0].name }
    }

    /// The group's own hosts and child groups, as written.
    public func members(ofGroup group: String) -> (hosts: [String], children: [String])? {
        guard let index = data.groupIndex[group] else { return nil }
        return (
            data.groups[index].hosts.map { data.hosts[$0].name },
            data.groups[index].children.map { data.groups[$0].name }
        )
    }
}

/// A problem in an inventory or a host pattern: where, and what.
public struct InventoryError: Error, Sendable, CustomStringConvertible {
    public var path: String
    /// 1-based; 0 when the problem is not on one line.
    public var line: Int
    public var message: String

    public init(path: String, line: Int, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String { line > 0 ? "\(path):\(line): \(message)" : "\(path): \(message)" }
}
