public import ArgumentParser
import FleetFraming
import FleetSimulator

/// The `fleetcmd` command line: every subcommand hangs off this root.
public struct FleetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fleetcmd",
        abstract: "Send commands to fleets of devices that speak short text or binary commands over raw TCP.",
        discussion: "Start with `fleetcmd demo`, which needs no hardware.",
        version: FleetVersion.current,
        subcommands: [
            Send.self, Run.self, Runs.self, Probe.self, Listen.self, Agent.self, Simulate.self, Demo.self, TLS.self,
            Presets.self, Shell.self, Watch.self, InventoryCommand.self,
        ]
    )

    public init() {}
}

/// The entry point the `fleetcmd` executable calls, so that it needs no import but this module.
public enum FleetCommandLine {
    public static func main() async {
        OpenFileLimit.raiseToHardLimit()
        await FleetCommand.main()
    }
}
