import FleetCLI

await FleetCommandLine.main()
