import ArgumentParser
import FleetInventory

/// `-i SOURCE` (repeatable) and `--limit PATTERN`: declared once for every command that reads an inventory
/// (`run`, `inventory`).
struct InventoryOptions: ParsableArguments {
    @Option(
        name: [.short, .customLong("inventory")],
        help: ArgumentHelp(
            "Inventory source (repeatable): file, directory, executable script, host1,host2, or - for stdin.",
            valueName: "source"), completion: .file())
    var inventory: [String] = []

    @Option(
        help: ArgumentHelp(
            "Ansible host pattern: groups, hosts, globs, a:b, a:&b, a:!b, ~regex, @file.", valueName: "pattern"))
    var limit: String?
}

/// Reading `-i` sources and applying `--limit`, the same way for every command that takes an inventory: Ansible's
/// warnings go to stderr, an unreadable inventory exits 78, a bad pattern or an empty selection exits 64.
enum InventorySelection {
    static func load(_ sources: [String]) throws -> Inventory {
        let inventory: Inventory
        do {
            inventory = try Inventory.load(sources: sources.isEmpty ? ["-"] : sources)
        } catch {
            Console.error("inventory: \(error)")
            throw ExitCode(ExitStatus.configInvalid)
        }
        for warning in inventory.warnings { Console.error("warning: inventory: \(warning)") }
        return inventory
    }

    /// The hosts `ansible all -i SOURCES --limit LIMIT` would select, in its order, with their variables.
    static func select(_ inventory: Inventory, limit: String?, allowEmpty: Bool = false) throws -> [Inventory.Host] {
        do {
            let selection = try HostPattern(limit ?? "all").evaluate(in: inventory)
            for warning in selection.warnings { Console.error("warning: \(warning)") }
            if selection.isEmpty, !allowEmpty {
                let what = limit.map { "--limit '\($0)' matches no device" } ?? "the inventory has no device"
                Console.error("\(what); nothing to do")
                throw ExitCode(ExitStatus.usage)
            }
            return try inventory.hosts(in: selection)
        } catch let error as InventoryError {
            Console.error("\(error)")
            throw ExitCode(error.path == "--limit" ? ExitStatus.usage : ExitStatus.configInvalid)
        }
    }
}
