import ArgumentParser
import FleetClient

/// `--connect-timeout` alone (`probe` connects and sends nothing).
struct ConnectTimeoutOption: ParsableArguments {
    @Option(help: ArgumentHelp("Limit for establishing the connection.", valueName: "duration"))
    var connectTimeout = DurationArgument(TimeoutOptions.defaults.connect)
}

/// `--connect-timeout`, `--reply-timeout`, `--total-timeout`, `--idle-timeout`.
struct TimeoutOptions: ParsableArguments {
    /// The limits when no option is given: the client's own defaults.
    static let defaults = DeviceClient.Timeouts()

    @OptionGroup var connect: ConnectTimeoutOption

    @Option(help: ArgumentHelp("Limit for each reply.", valueName: "duration"))
    var replyTimeout = DurationArgument(TimeoutOptions.defaults.reply)

    @Option(
        help: ArgumentHelp(
            "Limit for the whole conversation, connection included (default: none).", valueName: "duration"))
    var totalTimeout: DurationArgument?

    @Option(
        help: ArgumentHelp("For replies that end at close (raw): silence that ends a reply.", valueName: "duration"))
    var idleTimeout = DurationArgument(TimeoutOptions.defaults.idle)

    /// The limits as the client takes them.
    var values: DeviceClient.Timeouts {
        .init(
            connect: connect.connectTimeout.value, reply: replyTimeout.value, total: totalTimeout?.value,
            idle: idleTimeout.value)
    }
}
