public import ArgumentParser
import FleetClient
public import FleetFraming

/// Every option of the commands that hold conversations with devices (`send`, `run`, `shell`): framing, timeouts,
/// TLS, half-close, the device password and the reply limit. Declared once here, so each of those commands lists
/// the same set and honours all of it (``configuration(for:)`` is the one place they become a client
/// configuration).
struct ClientOptions: ParsableArguments {
    @OptionGroup(title: "Framing") var framing: FramingOptions
    @OptionGroup(title: "Timeouts") var timeouts: TimeoutOptions
    @OptionGroup(title: "TLS") var tls: TLSOptions

    @Option(
        help: ArgumentHelp(
            "Half-close after sending: auto (only for a single command), always, never. Default: the preset's.",
            valueName: "policy"))
    var halfClose: DevicePreset.HalfClose?

    @OptionGroup(title: "Device password") var password: PasswordOptions

    @Option(help: ArgumentHelp("Largest reply accepted.", valueName: "size"))
    var maxReply = ByteCountArgument(1 << 20)

    /// The configuration for devices of `preset`, without TLS and password (a run resolves those per group).
    func baseConfiguration(for preset: DevicePreset) throws -> DeviceClient.Configuration {
        var configuration = DeviceClient.Configuration(
            format: try framing.format(for: preset), timeouts: timeouts.values,
            halfClose: halfClose ?? preset.halfClose,
            maxReplyBytes: maxReply.value)
        configuration.session = preset.session
        configuration.replies = preset.replies
        return configuration
    }

    /// The whole configuration for devices of `preset`: TLS files read, the password resolved.
    func configuration(for preset: DevicePreset) throws -> DeviceClient.Configuration {
        var configuration = try baseConfiguration(for: preset)
        configuration.tls = try tls.clientTLS()
        configuration.password = try password.resolve()
        return configuration
    }
}

extension DevicePreset.HalfClose: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}
