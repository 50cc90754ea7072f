/// A fleet as operators describe it: hosts, groups of hosts (nested with children), and variables on both.
///
/// Read from Ansible INI and YAML inventories and from plain `host[:port]` lists (``Inventory/parse(_:path:)``),
/// with Ansible's semantics: every host is in `all`; hosts in no group are in `ungrouped`; a variable set on a
/// host wins over one set on its groups, a child group's over its parent's, and `all`'s loses to every group's.
public struct Inventory: Sendable {
    /// One host with its variables already merged from its groups.
    public struct Host: Sendable, Hashable {
        public var name: String
        public var variables: [String: String]
        /// The groups the host belongs to, directly or through children, `all` excluded, sorted.
        public var groups: [String]

        public init(name: String, variables: [String: String] = [:], groups: [String] = []) {
            self.name = name
            self.variables = variables
            self.groups = groups
        }
    }

    /// A group as written: its own hosts, child groups and variables.
    public struct Group: Sendable, Hashable {
        public var name: String
        public var hosts: [String] = []
        public var children: [String] = []
        public var variables: [String: String] = [:]

        public init(name: String) { self.name = name }
    }

    /// Every host, in the order the file first names them.
    public private(set) var hosts: [Host] = []
    /// Every group by name (`all` and `ungrouped` included).
    public private(set) var groups: [String: Group] = [:]
    private var index: [String: Int] = [:]

    /// Builds an inventory from groups as written and per-host variables; `hostOrder` is the file's order.
    public init(groups written: [String: Group], hostOrder: [String], hostVariables: [String: [String: String]]) {
        var groups = written
        groups["all", default: Group(name: "all")].name = "all"
        // Groups nobody names as a child hang off `all`.
        let named = Set(groups.values.flatMap(\.children))
        for name in groups.keys.sorted() where name != "all" && !named.contains(name) {
            if !groups["all"]!.children.contains(name) { groups["all"]!.children.append(name) }  // set above
        }
        // Hosts in no group but `all` are `ungrouped`.
        let grouped = Set(groups.values.filter { $0.name != "all" }.flatMap(\.hosts))
        let loose = hostOrder.filter { !grouped.contains($0) }
        if !loose.isEmpty || groups["ungrouped"] != nil {
            groups["ungrouped", default: Group(name: "ungrouped")].hosts.append(
                contentsOf: loose.filter { !(groups["ungrouped"]?.hosts.contains($0) ?? false) })
            if !groups["all"]!.children.contains("ungrouped") { groups["all"]!.children.append("ungrouped") }
        }
        self.groups = groups
        // Depth of each group below `all` (the longest path), so deeper (more specific) groups' variables win.
        var depth: [String: Int] = ["all": 0]
        var frontier = ["all"]
        var guardCount = 0
        while !frontier.isEmpty, guardCount < 10_000 {
            guardCount += 1
            var next: [String] = []
            for name in frontier {
                for child in groups[name]?.children ?? [] where (depth[child] ?? -1) < depth[name]! + 1 {
                    depth[child] = depth[name]! + 1
                    next.append(child)
                }
            }
            frontier = next
        }
        // Parents of each group, to find every group a host is in.
        var parents: [String: [String]] = [:]
        for group in groups.values { for child in group.children { parents[child, default: []].append(group.name) } }
        var direct: [String: [String]] = [:]
        for group in groups.values { for host in group.hosts { direct[host, default: []].append(group.name) } }
        for name in hostOrder {
            var memberOf = Set<String>()
            var stack = direct[name] ?? []
            while let group = stack.popLast() {
                guard memberOf.insert(group).inserted else { continue }
                stack += parents[group] ?? []
            }
            memberOf.insert("all")
            let ordered = memberOf.sorted { (depth[$0] ?? 1, $0) < (depth[$1] ?? 1, $1) }
            var variables: [String: String] = [:]
            for group in ordered { variables.merge(groups[group]?.variables ?? [:]) { _, new in new } }
            variables.merge(hostVariables[name] ?? [:]) { _, new in new }
            index[name] = hosts.count
            hosts.append(Host(name: name, variables: variables, groups: memberOf.subtracting(["all"]).sorted()))
        }
    }

    /// The host named `name`.
    public func host(named name: String) -> Host? { index[name].map { hosts[$0] } }

    /// The names of every host in `group`, directly or through its children.
    public func hostNames(inGroup group: String) -> Set<String> {
        if group == "all" { return Set(hosts.map(\.name)) }
        var names = Set<String>()
        var seen = Set<String>()
        var stack = [group]
        while let name = stack.popLast() {
            guard seen.insert(name).inserted, let found = groups[name] else { continue }
            names.formUnion(found.hosts)
            stack += found.children
        }
        return names
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
