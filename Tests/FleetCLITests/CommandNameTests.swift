import ArgumentParser
import Testing

@testable import FleetCLI

/// Every command names itself: without `commandName`, ArgumentParser derives the name from the type with
/// `String(describing:)` at every start, which costs a one-shot `fleetcmd send` a scan of the binary's protocol
/// conformances before it does anything.
@Suite struct CommandNameTests {
    @Test func everyCommandHasAnExplicitName() {
        var missing: [String] = []
        var names: [String] = []
        func visit(_ command: any ParsableCommand.Type, path: String) {
            guard let name = command.configuration.commandName else {
                missing.append(path + " " + String(describing: command))
                return
            }
            names.append(path + name)
            for sub in command.configuration.subcommands { visit(sub, path: path + name + " ") }
        }
        visit(FleetCommand.self, path: "")
        #expect(missing.isEmpty)
        #expect(
            names.contains("fleetcmd send") && names.contains("fleetcmd runs show")
                && names.contains("fleetcmd tls pin"))
    }
}
