import FleetAgent
import FleetFraming
import FleetTLS

// Single values of the configuration file, each read with its problem on its line.

extension ConfigReader {
    mutating func string(_ node: ConfigNode, _ key: String) -> String? {
        guard node.isScalar else {
            problem(node, "\(key) must be a single value")
            return nil
        }
        return node.string
    }

    mutating func flag(_ node: ConfigNode, _ key: String, into value: inout Bool) {
        if let flag = node.bool {
            value = flag
        } else {
            problem(node, "\(key) must be true or false")
        }
    }

    mutating func bytes(_ node: ConfigNode, _ key: String) -> [UInt8]? {
        guard let text = string(node, key) else { return nil }
        do {
            return try ByteEscapes.parse(text)
        } catch {
            problem(node, "\(key): \(error)")
            return nil
        }
    }

    mutating func duration(_ node: ConfigNode, _ key: String) -> Duration? {
        guard let text = string(node, key) else { return nil }
        do {
            return try DurationText.parse(text)
        } catch {
            problem(node, "\(key): \(error)")
            return nil
        }
    }

    mutating func size(_ node: ConfigNode, _ key: String) -> Int? {
        guard let text = string(node, key) else { return nil }
        do {
            let value = try ByteCount.parse(text)
            guard value > 0 else {
                problem(node, "\(key) must be positive")
                return nil
            }
            return value
        } catch {
            problem(node, "\(key): \(error)")
            return nil
        }
    }

    mutating func count(_ node: ConfigNode, _ key: String) -> Int? {
        guard let value = node.integer, value > 0 else {
            problem(node, "\(key) must be a positive whole number")
            return nil
        }
        return value
    }

    /// A list (or one value) of client identity rules (`CN=ops`, `DNS:…`), each checked.
    mutating func identityRules(_ node: ConfigNode, _ key: String) -> [String]? {
        guard let items = node.items ?? (node.isScalar ? [node] : nil) else {
            problem(node, "\(key) must be a list of identities like CN=ops or DNS:ops.example.com")
            return nil
        }
        var rules: [String] = []
        for item in items {
            let rule = item.string ?? ""
            do {
                try ClientIdentity.validate(rule: rule)
                rules.append(rule)
            } catch {
                problem(item, "\(error)")
            }
        }
        return rules
    }
}
