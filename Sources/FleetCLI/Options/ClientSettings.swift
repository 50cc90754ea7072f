import FleetClient
import FleetFraming
import FleetTLS

/// What ``ClientOptions`` hold, as plain values, and the one place they become a client configuration.
///
/// ``ClientSettings()`` is a command line that gives no client option: each default comes from the option group that
/// declares it (``PresetOptions/defaultPreset``, ``TimeoutOptions/defaults``, ``ClientOptions/defaultMaxReplyBytes``),
/// so `send`'s plain command line (``SendSettings/init(plainCommandLine:)``) gets exactly what ArgumentParser would
/// decode, without reflecting over every option type at start-up. A test pins the two together.
struct ClientSettings: Equatable {
    var preset = PresetOptions.defaultPreset
    var presetsFile: String? = nil
    var prefix: String? = nil
    var suffix: String? = nil
    var replyEnd: String? = nil
    var timeouts = TimeoutOptions.defaults
    /// `--tls` itself; the other TLS options turn TLS on too (``TLSOptions/isEnabled(flag:_:)``).
    var tlsFlag = false
    var tls = ClientTLSSettings()
    var halfClose: DevicePreset.HalfClose? = nil
    var password: String? = nil
    var passwordFile: String? = nil
    var maxReplyBytes = ClientOptions.defaultMaxReplyBytes

    /// The checks ArgumentParser runs when it decodes ``ClientOptions`` (each group's `validate()`), in its order.
    func validate() throws {
        _ = try FramingOptions.format(for: devicePreset(), prefix: prefix, suffix: suffix, replyEnd: replyEnd)
        try TLSOptions.validate(tls)
        try PasswordOptions.validate(password: password, passwordFile: passwordFile)
        try ClientOptions.validate(maxReplyBytes: maxReplyBytes)
    }

    /// The chosen device preset (built-in or from the presets file).
    func devicePreset() throws -> DevicePreset { try PresetOptions.devicePreset(named: preset, file: presetsFile) }

    /// The configuration for devices of `preset`, without TLS and password (a run resolves those per group).
    func baseConfiguration(for preset: DevicePreset) throws -> DeviceClient.Configuration {
        var configuration = DeviceClient.Configuration(
            format: try FramingOptions.format(for: preset, prefix: prefix, suffix: suffix, replyEnd: replyEnd),
            timeouts: timeouts, halfClose: halfClose ?? preset.halfClose, maxReplyBytes: maxReplyBytes)
        configuration.session = preset.session
        configuration.replies = preset.replies
        return configuration
    }

    /// The whole configuration for devices of `preset`: TLS files read, the password resolved.
    func configuration(for preset: DevicePreset) throws -> DeviceClient.Configuration {
        var configuration = try baseConfiguration(for: preset)
        configuration.tls = try TLSOptions.clientTLS(flag: tlsFlag, tls)
        configuration.password = try PasswordOptions.resolve(password: password, passwordFile: passwordFile)
        return configuration
    }
}
