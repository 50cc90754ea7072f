import FleetCLI

FleetCommandLine.run()
