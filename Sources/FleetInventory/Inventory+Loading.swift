import FleetSystemText
import Foundation

extension Inventory {
    /// Reads inventory sources as `ansible -i` takes them, in order, into one inventory: files (INI, YAML, or the
    /// JSON of `ansible-inventory --list`), directories (every file in name order, skipping what Ansible skips),
    /// executable scripts (run with `--list`), comma lists (`host1,host2:22,`), and `-` for standard input.
    ///
    /// - Throws: ``InventoryError`` naming the source (file and line where there is one) and the cause.
    public static func load(sources: [String]) throws(InventoryError) -> Inventory {
        var loader = SourceLoader()
        for source in sources { try loader.load(source) }
        loader.data.reconcile()
        return try Inventory(data: loader.data, varsDirectories: loader.varsDirectories)
    }

    /// Reads one inventory source (see ``load(sources:)``).
    public static func load(path: String) throws(InventoryError) -> Inventory { try load(sources: [path]) }

    /// Parses inventory text as a file of that name would be read (`.yml`/`.yaml`/`.json` or no extension: YAML
    /// first, then INI; anything else INI).
    public static func parse(_ text: String, path: String = "<inventory>") throws(InventoryError) -> Inventory {
        var loader = SourceLoader()
        try loader.parseText(text, path: path)
        loader.data.reconcile()
        return try Inventory(data: loader.data, varsDirectories: [])
    }
}

/// The sources of one inventory, read into one ``InventoryData``.
struct SourceLoader {
    var data = InventoryData()
    /// Where `group_vars/` and `host_vars/` are looked for: each file source's folder, each directory source.
    var varsDirectories: [String] = []

    /// Names Ansible skips in an inventory directory: hidden files, `group_vars`, `host_vars`, `vars_plugins`, and
    /// its ignored extensions.
    static func isIgnored(_ name: String) -> Bool {
        if name.hasPrefix(".") || ["host_vars", "group_vars", "vars_plugins"].contains(name) { return true }
        let ignored = [".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry"]
        return ignored.contains { name.hasSuffix($0) }
    }

    mutating func load(_ source: String) throws(InventoryError) {
        if source == "-" {
            let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            try parseText(text, path: "<stdin>")
            return
        }
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory)
        if !exists, source.contains(",") {
            readHostList(source)
            return
        }
        guard exists else { throw InventoryError(path: source, line: 0, message: "no such file or directory") }
        if isDirectory.boolValue {
            varsDirectories.append(source)
            guard try loadDirectory(source) > 0 else {
                throw InventoryError(path: source, line: 0, message: "the folder holds no inventory file")
            }
            return
        }
        varsDirectories.append(
            (source as NSString).deletingLastPathComponent.isEmpty
                ? "." : (source as NSString).deletingLastPathComponent)
        try loadFile(source)
    }

    /// Reads every inventory file under `directory`; returns how many there were.
    @discardableResult
    private mutating func loadDirectory(_ directory: String) throws(InventoryError) -> Int {
        var count = 0
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw InventoryError(path: directory, line: 0, message: "cannot read the directory")
        }
        // Python sorts the byte names.
        for name in names.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        where !Self.isIgnored(name) {
            let path = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                count += try loadDirectory(path)
            } else {
                try loadFile(path)
                count += 1
            }
        }
        return count
    }

    private mutating func loadFile(_ path: String) throws(InventoryError) {
        if FileManager.default.isExecutableFile(atPath: path) {
            let output = try Self.runScript(path)
            var attempt = data
            try JSONInventoryReader(path: path).read(output, into: &attempt)
            data = attempt
            return
        }
        guard let contents = FileManager.default.contents(atPath: path) else {
            throw InventoryError(path: path, line: 0, message: "cannot read the file")
        }
        try parseText(String(decoding: contents, as: UTF8.self), path: path)
    }

    /// Ansible's order of plugins for a file: YAML (no extension, `.yaml`, `.yml`, `.json`), then INI (anything
    /// but `.toml`). fleetcmd also reads `ansible-inventory --list` JSON, which Ansible takes only from a script.
    mutating func parseText(_ text: String, path: String) throws(InventoryError) {
        let lower = path.lowercased()
        let fileExtension = (lower as NSString).pathExtension
        let yamlFirst = fileExtension.isEmpty || ["yaml", "yml", "json"].contains(fileExtension)
        if JSONInventoryReader.looksLikeScriptOutput(text) {
            var attempt = data
            try JSONInventoryReader(path: path).read(text, into: &attempt)
            data = attempt
            return
        }
        var yamlProblem: InventoryError?
        if yamlFirst {
            var attempt = data
            do {
                try YAMLInventoryReader(path: path).read(text, into: &attempt)
                data = attempt
                return
            } catch {
                yamlProblem = error
            }
        }
        guard fileExtension != "toml" else {
            throw InventoryError(path: path, line: 0, message: "TOML inventories are not supported")
        }
        var attempt = data
        do {
            try INIInventoryReader(path: path).read(text, into: &attempt)
            data = attempt
        } catch {
            // The error of the format the file was meant to be in.
            if let yamlProblem, ["yaml", "yml", "json"].contains(fileExtension) { throw yamlProblem }
            if let yamlProblem, Self.looksLikeYAML(text) { throw yamlProblem }
            throw error
        }
    }

    static func looksLikeYAML(_ text: String) -> Bool {
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            return trimmed.hasPrefix("---") || (trimmed.hasSuffix(":") && !trimmed.hasPrefix("["))
        }
        return false
    }

    /// `host1,host2:22,`: Ansible's `host_list` plugin (no ranges; the first port of a host is kept).
    private mutating func readHostList(_ source: String) {
        for item in source.split(separator: ",", omittingEmptySubsequences: false) {
            let entry = String(item).stripping(" \t\r\n")
            guard !entry.isEmpty else { continue }
            var host = entry
            var port: Int?
            if case .success(let parsed) = HostAddress.parse(entry, allowRanges: false) {
                host = parsed.host
                port = parsed.port
            }
            if data.hostIndex[host] == nil {
                try? data.addHost(host, group: "ungrouped", port: port)  // `ungrouped` always exists
            } else if port != nil {
                data.warnings.append(
                    "host \(host) is listed again in '\(source)': as Ansible does, the first entry is kept")
            }
        }
    }

    /// Runs an inventory script with `--list`, as Ansible's `script` plugin does.
    static func runScript(_ path: String) throws(InventoryError) -> String {
        let result: ChildProcess.Result
        do {
            result = try ChildProcess.run(path, arguments: ["--list"])
        } catch {
            // The system's reason (`exec format error`: no `#!` line), as Ansible names it.
            throw InventoryError(path: path, line: 0, message: "cannot run the inventory script: \(error.reason)")
        }
        let stderrText = String(decoding: result.errorOutput, as: UTF8.self).stripping(" \t\r\n")
        guard result.termination == .exited(0) else {
            let detail =
                stderrText.isEmpty
                ? "" : ": " + stderrText.split(whereSeparator: \.isNewline).prefix(5).joined(separator: " / ")
            throw InventoryError(
                path: path, line: 0,
                message: "inventory script failed (exit \(result.termination.status))\(detail)")
        }
        return String(decoding: result.output, as: UTF8.self)
    }
}
