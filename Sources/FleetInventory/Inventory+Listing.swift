/// What `ansible-inventory` prints, from fleetcmd's reading of the same sources: `--list`, `--host NAME` and
/// `--graph`, in its layout (JSON with sorted keys and four-space indents), so the two can be compared line by line.
extension Inventory {
    /// `ansible-inventory --list [--limit P]`: groups with their hosts and children, and `_meta.hostvars`.
    public func ansibleList(limit: String? = nil) throws(InventoryError) -> String {
        let selected = try HostPattern(limit ?? "all").evaluate(in: self).names
        let available = Set(selected)
        var results: [String: InventoryValue] = [:]
        var seen = Set<Int>()
        func format(_ group: Int) {
            var entry: [String: InventoryValue] = [:]
            if group != InventoryData.all {
                let hosts = data.groups[group].hosts.map { data.hosts[$0].name }.filter { available.contains($0) }
                if !hosts.isEmpty { entry["hosts"] = .list(hosts.map { .string($0) }) }
            }
            var children: [InventoryValue] = []
            for child in data.groups[group].children {
                children.append(.string(data.groups[child].name))
                if !seen.contains(child) {
                    format(child)
                    seen.insert(child)
                }
            }
            if !children.isEmpty { entry["children"] = .list(children) }
            if !entry.isEmpty { results[data.groups[group].name] = .map(entry) }
        }
        format(InventoryData.all)
        var hostvars: [String: InventoryValue] = [:]
        for host in try hosts(named: selected) where !host.values.isEmpty { hostvars[host.name] = .map(host.values) }
        results["_meta"] = .map(["hostvars": .map(hostvars), "profile": .string("inventory_legacy")])
        return InventoryValue.map(results).json(indent: 4)
    }

    /// `ansible-inventory --host NAME`: the host's variables; nil when there is no such host.
    public func ansibleHost(_ name: String) throws(InventoryError) -> String? {
        guard let host = try host(named: name) else { return nil }
        return InventoryValue.map(host.values).json(indent: 4)
    }

    /// `ansible-inventory --graph [GROUP]`: the group tree with each group's own hosts; nil when there is no such
    /// group.
    public func ansibleGraph(group name: String = "all") -> String? {
        guard let start = data.groupIndex[name] else { return nil }
        var lines: [String] = []
        func line(_ text: String, _ depth: Int) -> String {
            depth == 0 ? text : String(repeating: "  |", count: depth) + "--" + text
        }
        func walk(_ group: Int, _ depth: Int) {
            lines.append(line("@\(data.groups[group].name):", depth))
            for child in data.groups[group].children { walk(child, depth + 1) }
            if group != InventoryData.all {
                for host in data.groups[group].hosts { lines.append(line(data.hosts[host].name, depth + 1)) }
            }
        }
        walk(start, 0)
        return lines.joined(separator: "\n")
    }
}
