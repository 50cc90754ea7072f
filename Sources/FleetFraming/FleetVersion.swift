/// fleetcmd's version: the one string `fleetcmd --version` and the agent's `VERSION` builtin report.
public enum FleetVersion {
    public static let current = "0.1.0"
}
