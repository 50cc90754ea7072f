public import ArgumentParser
import FleetClient
public import FleetFraming

/// Every option of the commands that hold conversations with devices (`send`, `run`, `shell`): framing, timeouts,
/// TLS, half-close, the device password and the reply limit. Declared once here, so each of those commands lists
/// the same set and honours all of it (``settings`` is what they hold, ``ClientSettings`` the one place they become
/// a client configuration).
struct ClientOptions: ParsableArguments {
    /// `--max-reply` when not given.
    static let defaultMaxReplyBytes = 1 << 20

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
    var maxReply = ByteCountArgument(ClientOptions.defaultMaxReplyBytes)

    func validate() throws { try Self.validate(maxReplyBytes: maxReply.value) }

    /// A limit of nothing would make every reply too large.
    static func validate(maxReplyBytes: Int) throws {
        guard maxReplyBytes >= 1 else { throw ValidationError("--max-reply must be at least 1 byte") }
    }

    /// The options' values.
    var settings: ClientSettings {
        ClientSettings(
            preset: framing.preset, presetsFile: framing.presets, prefix: framing.prefix, suffix: framing.suffix,
            replyEnd: framing.replyEnd, timeouts: timeouts.values, tlsFlag: tls.tls, tls: tls.settings,
            halfClose: halfClose, password: password.password, passwordFile: password.passwordFile,
            maxReplyBytes: maxReply.value)
    }
}

extension DevicePreset.HalfClose: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}
