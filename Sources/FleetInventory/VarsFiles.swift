import Foundation
internal import Yams

/// Ansible's `host_group_vars` plugin: variables in `group_vars/NAME` and `host_vars/NAME` beside each inventory
/// source, where NAME is a file (`NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json`: the first that exists) or a folder
/// whose files (sorted, recursively, hidden ones and `~` backups skipped) are read in order.
struct VarsFiles: Sendable {
    private struct Folder: Sendable {
        let path: String
        /// The names in the folder, read once (a host_vars lookup for each of a million hosts costs no stat).
        let names: Set<String>
    }

    private let groupFolders: [Folder]
    private let hostFolders: [Folder]

    init(directories: [String]) {
        func folder(_ directory: String, _ kind: String) -> Folder? {
            let path = ((directory as NSString).resolvingSymlinksInPath as NSString).appendingPathComponent(kind)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return nil }
            return Folder(path: path, names: Set(names))
        }
        groupFolders = directories.compactMap { folder($0, "group_vars") }
        hostFolders = directories.compactMap { folder($0, "host_vars") }
    }

    var isEmpty: Bool { groupFolders.isEmpty && hostFolders.isEmpty }

    /// The variables for group `name`, one mapping per source folder in source order (each already combined).
    func group(_ name: String) throws(InventoryError) -> [[String: InventoryValue]] {
        try groupFolders.map { folder throws(InventoryError) in try Self.load(name, in: folder) }
    }

    func host(_ name: String) throws(InventoryError) -> [[String: InventoryValue]] {
        try hostFolders.map { folder throws(InventoryError) in try Self.load(name, in: folder) }
    }

    private static func load(_ name: String, in folder: Folder) throws(InventoryError) -> [String: InventoryValue] {
        guard !name.hasPrefix("/") else { return [:] }
        var result: [String: InventoryValue] = [:]
        for candidate in [name, name + ".yml", name + ".yaml", name + ".json"] where folder.names.contains(candidate) {
            let path = (folder.path as NSString).appendingPathComponent(candidate)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let files = isDirectory.boolValue ? filesIn(path) : [path]
            for file in files { result.merge(try read(file)) { _, new in new } }
            break
        }
        return result
    }

    private static func filesIn(_ directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var found: [String] = []
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        where !name.hasPrefix(".") && !name.hasSuffix("~") {
            let path = (directory as NSString).appendingPathComponent(name)
            let ext = (name as NSString).pathExtension
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                if ext.isEmpty { found += filesIn(path) }
            } else if ext.isEmpty || ["yml", "yaml", "json"].contains(ext) {
                found.append(path)
            }
        }
        return found
    }

    private static func read(_ path: String) throws(InventoryError) -> [String: InventoryValue] {
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw InventoryError(path: path, line: 0, message: "cannot read the file")
        }
        let root: Node?
        do {
            root = try YAMLValues.compose(String(decoding: contents, as: UTF8.self))
        } catch {
            throw InventoryError(path: path, line: error.line, message: error.text)
        }
        guard let node = root else { return [:] }
        switch YAMLValues.value(node) {
        case .null: return [:]
        case .map(let entries): return entries
        case let other where !other.isTruthy: return [:]
        default: throw InventoryError(path: path, line: 0, message: "variables must be a mapping of name: value")
        }
    }
}
