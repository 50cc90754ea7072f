/// Ansible's `InventoryData`: the groups and hosts that inventory sources add, in the order they add them, and the
/// reconciliation that follows (every group under `all`, hosts in no group in `ungrouped`).
///
/// Indices stand for names so that large fleets stay linear: membership tests are sets, lists keep Ansible's order.
struct InventoryData {
    struct Group {
        var name: String
        var hosts: [Int] = []
        var hostSet: Set<Int> = []
        var children: [Int] = []
        var parents: [Int] = []
        var variables: [String: InventoryValue] = [:]
        var priority = 1
        var depth = 0
    }

    struct Host {
        var name: String
        var variables: [String: InventoryValue] = [:]
        /// Groups the host was added to directly.
        var groups: [Int] = []
        /// The port from `host:port` when the host was first added (Ansible keeps that one).
        var port: Int?
    }

    /// An error a source's reader reports; the reader adds the file and line.
    struct Failure: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    private(set) var groups: [Group] = []
    private(set) var groupIndex: [String: Int] = [:]
    private(set) var hosts: [Host] = []
    private(set) var hostIndex: [String: Int] = [:]
    /// Things Ansible accepts silently or with a warning that a user should hear about.
    var warnings: [String] = []

    static let all = 0
    static let ungrouped = 1

    init() {
        addGroup("all")
        addGroup("ungrouped")
        try? addChildGroup(Self.all, Self.ungrouped)  // as Ansible's InventoryData does; cannot fail
    }

    /// `add_group`: the group's index, creating it when new.
    @discardableResult
    mutating func addGroup(_ name: String) -> Int {
        if let index = groupIndex[name] { return index }
        groups.append(Group(name: name))
        groupIndex[name] = groups.count - 1
        return groups.count - 1
    }

    /// Room for `count` more hosts (a list whose length is known), so that the tables grow once.
    mutating func reserveHosts(_ count: Int) {
        hosts.reserveCapacity(hosts.count + count)
        hostIndex.reserveCapacity(hostIndex.count + count)
    }

    /// `add_host`: creates the host on first sight (with its port), then adds it to `group`.
    mutating func addHost(_ name: String, group: String?, port: Int?) throws(Failure) {
        guard !name.isEmpty else { throw Failure("Invalid empty host name provided") }
        var groupNumber: Int?
        if let group {
            guard let index = groupIndex[group] else { throw Failure("Could not find group \(group) in inventory") }
            groupNumber = index
        }
        let host: Int
        if let existing = hostIndex[name] {
            host = existing
            if let port, let first = hosts[existing].port, port != first {
                warnings.append(
                    "host \(name) is listed with port \(first) and again with port \(port): as Ansible does, it is "
                        + "one host and keeps port \(first) (use different names, or a plain host:port list, for "
                        + "separate devices)")
            }
        } else {
            var created = Host(name: name, port: port)
            if let port { created.variables["ansible_port"] = .int(port) }
            hosts.append(created)
            host = hosts.count - 1
            hostIndex[name] = host
        }
        if let groupNumber { addHost(host, toGroup: groupNumber) }
    }

    private mutating func addHost(_ host: Int, toGroup group: Int) {
        guard groups[group].hostSet.insert(host).inserted else { return }
        groups[group].hosts.append(host)
        hosts[host].groups.append(group)
    }

    /// `set_variable`: on the group of that name if there is one, else on the host (as Ansible, a host named like
    /// a group sets the group's variable).
    mutating func setVariable(_ entity: String, _ key: String, _ value: InventoryValue) throws(Failure) {
        if let group = groupIndex[entity] {
            if key == "ansible_group_priority" {
                guard let priority = Self.integer(value) else {
                    throw Failure("ansible_group_priority of group \(entity) must be a whole number")
                }
                groups[group].priority = priority
            } else {
                groups[group].variables[key] = value
            }
        } else if let host = hostIndex[entity] {
            hosts[host].variables[key] = value
        } else {
            throw Failure("Could not identify group or host named \(entity)")
        }
    }

    static func integer(_ value: InventoryValue) -> Int? {
        switch value {
        case .int(let number): return number
        case .bool(let flag): return flag ? 1 : 0
        case .double(let number) where number.rounded(.towardZero) == number: return Int(number)
        case .string(let text): return Int(text.stripping(" \t"))
        default: return nil
        }
    }

    /// `add_child`: a group or a host into `group`.
    mutating func addChild(_ group: String, _ child: String) throws(Failure) {
        guard let parent = groupIndex[group] else { throw Failure("\(group) is not a known group") }
        if let childGroup = groupIndex[child] {
            try addChildGroup(parent, childGroup)
        } else if let host = hostIndex[child] {
            addHost(host, toGroup: parent)
        } else {
            throw Failure("\(child) is not a known host nor group")
        }
    }

    private mutating func addChildGroup(_ parent: Int, _ child: Int) throws(Failure) {
        guard parent != child else { throw Failure("can't add group \(groups[parent].name) to itself") }
        guard !groups[parent].children.contains(child) else { return }
        if ancestors(of: parent).contains(child) {
            throw Failure(
                "Adding group '\(groups[child].name)' as child to '\(groups[parent].name)' creates a recursive "
                    + "dependency loop.")
        }
        groups[parent].children.append(child)
        if !groups[child].parents.contains(parent) { groups[child].parents.append(parent) }
    }

    func ancestors(of group: Int) -> Set<Int> {
        var seen = Set<Int>()
        var stack = groups[group].parents
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack += groups[next].parents }
        }
        return seen
    }

    /// `reconcile_inventory`: groups with no parent go under `all`; hosts in no group but `all` go to
    /// `ungrouped`, hosts in other groups leave it; group depths are settled (the longest path from `all`).
    mutating func reconcile() {
        for group in groups.indices where group != Self.all && groups[group].parents.isEmpty {
            try? addChildGroup(Self.all, group)  // a group with no parent cannot close a loop under `all`
        }
        // Which groups put a host in `ungrouped` (itself, or a group under it), worked out once per group rather
        // than walking each host's ancestry: a million hosts in a few groups stay linear.
        let ungroupedAncestors = ancestors(of: Self.ungrouped)
        let ungroupedHasOtherParents = !ungroupedAncestors.subtracting([Self.all]).isEmpty
        let reachesUngrouped = groups.indices.map { $0 == Self.ungrouped || ancestors(of: $0).contains(Self.ungrouped) }
        var leaving = Set<Int>()
        for host in hosts.indices {
            let direct = hosts[host].groups
            let inUngrouped = direct.contains { reachesUngrouped[$0] }
            let inOther =
                direct.contains { $0 != Self.all && $0 != Self.ungrouped }
                || (direct.contains(Self.ungrouped) && ungroupedHasOtherParents)
            if inUngrouped {
                if inOther { leaving.insert(host) }
            } else if direct.allSatisfy({ $0 == Self.all }) {
                // Through add_child, as Ansible: when a group has the host's name, that group joins `ungrouped`.
                try? addChild("ungrouped", hosts[host].name)  // both exist; a loop here is left out, as not adding
            }
        }
        if !leaving.isEmpty {
            groups[Self.ungrouped].hosts.removeAll { leaving.contains($0) }
            groups[Self.ungrouped].hostSet.subtract(leaving)
            for host in leaving { hosts[host].groups.removeAll { $0 == Self.ungrouped } }
        }
        settleDepths()
        for group in groups where hostIndex[group.name] != nil {
            warnings.append("Found both group and host with same name: \(group.name)")
        }
    }

    /// Every group a host is in, directly or through parents (`all` included once reconciled).
    func groupsOf(host: Int) -> Set<Int> {
        var seen = Set<Int>()
        var stack = hosts[host].groups
        while let next = stack.popLast() {
            if seen.insert(next).inserted { stack += groups[next].parents }
        }
        return seen
    }

    /// Depth of each group: the longest path from `all`, as Ansible's incremental updates leave it.
    private mutating func settleDepths() {
        var indegree = groups.map { $0.parents.count }
        var queue = groups.indices.filter { indegree[$0] == 0 }
        var head = 0
        for group in groups.indices { groups[group].depth = 0 }
        while head < queue.count {
            let group = queue[head]
            head += 1
            for child in groups[group].children {
                groups[child].depth = max(groups[child].depth, groups[group].depth + 1)
                indegree[child] -= 1
                if indegree[child] == 0 { queue.append(child) }
            }
        }
    }

    /// `Group.get_hosts()`: the group's hosts, then those of its descendants level by level, each host once.
    ///
    /// Ansible walks the levels below the first through a Python set, so where two groups of one level both have
    /// children the order between those children is Python's set order (by object address); fleetcmd takes them in
    /// the order the level was listed, which is the same whenever Ansible's order is fixed.
    func hostsOf(group: Int) -> [Int] {
        var ordered = [group] + groups[group].children
        var seen = Set(ordered)
        var frontier = ordered
        while !frontier.isEmpty {
            var next: [Int] = []
            for item in frontier {
                for child in groups[item].children where !seen.contains(child) {
                    seen.insert(child)
                    next.append(child)
                    ordered.append(child)
                }
            }
            frontier = next
        }
        var result: [Int] = []
        var taken = Set<Int>()
        for kid in ordered {
            for host in groups[kid].hosts where taken.insert(host).inserted { result.append(host) }
        }
        return result
    }
}

extension StringProtocol {
    /// Python's `str.strip(chars)`.
    func stripping(_ set: String) -> String {
        if set.utf8.allSatisfy({ $0 < 0x80 }) {
            // Code point by code point, as Python does (an ASCII byte is never part of a longer UTF-8 sequence).
            let bytes = Array(utf8)
            var start = 0
            var end = bytes.count
            while start < end, set.utf8.contains(bytes[start]) { start += 1 }
            while end > start, set.utf8.contains(bytes[end - 1]) { end -= 1 }
            if start == 0, end == bytes.count { return String(self) }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
        let characters = Set(set)
        var slice = Substring(self)
        while let first = slice.first, characters.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, characters.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
