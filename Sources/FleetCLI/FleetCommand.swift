public import ArgumentParser
import CFleetBuildInfo
import FleetFraming
import FleetSimulator
import Foundation

/// The `fleetcmd` command line: every subcommand hangs off this root.
public struct FleetCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fleetcmd",
        abstract: "Send commands to fleets of devices that speak short text or binary commands over raw TCP.",
        discussion: "Start with `fleetcmd demo`, which needs no hardware.",
        version: FleetCommand.versionText,
        subcommands: [
            Send.self, Run.self, Runs.self, Probe.self, Listen.self, Agent.self, Simulate.self, Demo.self, TLS.self,
            Presets.self, Shell.self, Watch.self, InventoryCommand.self, ConfigCommand.self, Worker.self,
        ]
    )

    public init() {}

    /// `fleetcmd --version`: `0.1.0 (commit 1a2b3c4d5e6f)`; a build that did not go through scripts/release.sh
    /// says `commit unknown`.
    static let versionText = "\(FleetVersion.current) (commit \(String(cString: fleet_build_commit())))"
}

/// The entry point the `fleetcmd` executable calls, so that it needs no import but this module.
public enum FleetCommandLine {
    /// Runs the command line and exits. What needs no Swift concurrency is answered on the main thread as it is:
    /// `--version`, the examples help, and a plain `send` that takes the lean path (a literal address in
    /// plaintext). Everything else runs as the main actor's task, as an `async` main would run it. Why: an async
    /// main starts Dispatch's main queue and worker threads before its first line (four threads for
    /// `--version`), which a one-shot process pays for on every start.
    public static func run() -> Never {
        OutputFailure.installExitCheck()
        OpenFileLimit.raiseToHardLimit()
        var arguments = Array(CommandLine.arguments.dropFirst())
        if let help = HelpExamples.helpRequested(arguments) {
            print(help)
            exit(0)
        }
        // What ArgumentParser prints for the root command's `--version`, without its reflection over every
        // command (half of the 6 ms such a process took), and whatever the config file holds.
        if arguments == ["--version"] {
            print(FleetCommand.versionText)
            exit(0)
        }
        // The user's config file supplies defaults for options the command line leaves out.
        do {
            arguments = try UserConfig.load().applied(to: arguments)
        } catch {
            if arguments.first != "config" {
                Console.error("\(error)")
                exit(ExitStatus.configInvalid)
            }
        }
        // `send HOST COMMAND...` with no option skips ArgumentParser's reflection (see ``SendSettings``); its errors
        // are reported as ArgumentParser reports an error thrown from a command's `run()`.
        if let send = SendSettings(plainCommandLine: arguments) {
            do {
                let job = try send.prepared()
                if try send.runOnThisThread(job) { exit(0) }
                Task { @MainActor in
                    do {
                        try await send.runWithClient(job)  // the lean path did not take it
                    } catch {
                        FleetCommand.exit(withError: error)
                    }
                    exit(0)
                }
            } catch {
                FleetCommand.exit(withError: error)
            }
        } else {
            let parsed = arguments
            Task { @MainActor in
                await FleetCommand.main(parsed)
                exit(0)
            }
        }
        dispatchMain()
    }
}
