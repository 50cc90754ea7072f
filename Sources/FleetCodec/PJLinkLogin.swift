import Crypto

/// PJLink class 1 login (JBMIA PJLink specification): the projector greets with `PJLINK 1 RANDOM`, and the first
/// command is prefixed with MD5(RANDOM + password) as 32 lowercase hex digits. Part of the `pjlink` preset's
/// session (``DevicePreset/Authentication/pjlink``); here rather than in FleetFraming, which depends on nothing.
public enum PJLinkLogin {
    public static func digest(random: String, password: String) -> [UInt8] {
        let hash = Insecure.MD5.hash(data: Array((random + password).utf8))
        let digits = Array("0123456789abcdef".utf8)
        return hash.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] }
    }
}
