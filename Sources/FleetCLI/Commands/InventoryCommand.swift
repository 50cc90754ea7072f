import ArgumentParser
import FleetInventory

/// `fleetcmd inventory`: what fleetcmd reads from an inventory, printed as `ansible-inventory` prints it.
struct InventoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "Show the devices, groups and variables fleetcmd reads from an inventory (as ansible-inventory).",
        discussion: """
            Reads the same sources as `fleetcmd run -i` (files, directories, scripts, comma lists; -i repeatable) \
            with Ansible's rules, and prints them in ansible-inventory's layout, so that the two can be compared: \
            --list (groups, children and _meta.hostvars, as JSON), --host NAME (one host's variables), --graph \
            [GROUP] (the group tree). --limit applies to --list, as in ansible-inventory.
            """
    )

    @OptionGroup var selection: InventoryOptions

    @Flag(help: "Print every group and host, with resolved host variables, as JSON.")
    var list = false

    @Option(help: ArgumentHelp("Print one host's variables as JSON.", valueName: "name"))
    var host: String?

    @Flag(help: "Print the group tree.")
    var graph = false

    @Argument(help: ArgumentHelp("Group to start --graph at.", valueName: "group"))
    var group: String?

    func validate() throws {
        let modes = [list, host != nil, graph].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give exactly one of --list, --host NAME, --graph") }
        if group != nil, !graph { throw ValidationError("a GROUP argument goes with --graph") }
    }

    func run() throws {
        let parsed = try InventorySelection.load(selection.inventory)
        do {
            if list {
                if let limit = selection.limit {
                    let matched = try HostPattern(limit).evaluate(in: parsed)
                    for warning in matched.warnings { Console.error("warning: \(warning)") }
                }
                Console.out(try parsed.ansibleList(limit: selection.limit))
            } else if let host {
                guard let text = try parsed.ansibleHost(host) else {
                    Console.error("no host named '\(host)' in the inventory")
                    throw ExitCode(ExitStatus.usage)
                }
                Console.out(text)
            } else {
                guard let text = parsed.ansibleGraph(group: group ?? "all") else {
                    Console.error("no group named '\(group ?? "all")' in the inventory")
                    throw ExitCode(ExitStatus.usage)
                }
                Console.out(text)
            }
        } catch let error as InventoryError {
            Console.error("\(error)")
            throw ExitCode(error.path == "--limit" ? ExitStatus.usage : ExitStatus.configInvalid)
        }
    }
}
