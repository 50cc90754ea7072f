internal import Yams

/// The JSON that inventory scripts print and `ansible-inventory --list` writes: groups with `hosts` (a list),
/// `vars` and `children`, and `_meta.hostvars`; read as Ansible's `script` plugin reads it.
struct JSONInventoryReader {
    let path: String

    /// Whether `text` looks like such JSON rather than a YAML inventory (a `_meta` key, or lists of hosts).
    static func looksLikeScriptOutput(_ text: String) -> Bool {
        let trimmed = text.drop { $0.isWhitespace }
        guard trimmed.first == "{" else { return false }
        return text.contains("\"_meta\"") || text.contains("\"hosts\": [") || text.contains("\"children\": [")
            || text.contains("\"hosts\":[") || text.contains("\"children\":[")
    }

    func read(_ text: String, into data: inout InventoryData) throws(InventoryError) {
        let root: Node?
        do {
            root = try YAMLValues.compose(text)
        } catch {
            throw InventoryError(path: path, line: error.line, message: "inventory script output is not valid JSON")
        }
        guard case .mapping(let top)? = root else {
            throw InventoryError(path: path, line: 0, message: "inventory script output must be a JSON object")
        }
        var hostVariables: InventoryValue?
        var seen: [String] = []
        var seenSet = Set<String>()
        func fail(_ message: String) -> InventoryError { InventoryError(path: path, line: 0, message: message) }
        for (group, _, node) in YAMLValues.namedPairs(top) {
            var value = YAMLValues.value(node)
            if group == "_meta" {
                guard case .map(let meta) = value, case .map(let hostvars)? = meta["hostvars"] else {
                    throw fail("'_meta.hostvars' must be an object")
                }
                hostVariables = .map(hostvars)
                continue
            }
            data.addGroup(group)
            if case .map(let entries) = value {
                if entries["hosts"] == nil, entries["vars"] == nil, entries["children"] == nil {
                    value = .map(["hosts": .list([.string(group)]), "vars": value])
                }
            } else {
                value = .map(["hosts": value])
            }
            guard case .map(let entries) = value else { continue }
            if let hosts = entries["hosts"] {
                guard case .list(let names) = hosts else { throw fail("'\(group).hosts' must be a list") }
                for name in names {
                    let host = name.text
                    if seenSet.insert(host).inserted { seen.append(host) }
                    do { try data.addHost(host, group: group, port: nil) } catch { throw fail(error.text) }
                }
            }
            if let vars = entries["vars"] {
                guard case .map(let variables) = vars else { throw fail("'\(group).vars' must be an object") }
                for key in variables.keys.sorted() {
                    // the key comes from `keys`: never nil
                    do { try data.setVariable(group, key, variables[key]!) } catch { throw fail(error.text) }
                }
            }
            if case .list(let children)? = entries["children"] {
                for child in children {
                    data.addGroup(child.text)
                    do { try data.addChild(group, child.text) } catch { throw fail(error.text) }
                }
            }
        }
        guard case .map(let perHost)? = hostVariables else { return }
        for host in seen {
            guard case .map(let variables)? = perHost[host] else { continue }
            for key in variables.keys.sorted() {
                // the key comes from `keys`: never nil
                do { try data.setVariable(host, key, variables[key]!) } catch { throw fail(error.text) }
            }
        }
    }
}
