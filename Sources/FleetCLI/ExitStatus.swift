import ArgumentParser
public import FleetClient

/// The one table of fleetcmd's exit codes. Every command maps its outcome through here.
///
/// | code | meaning |
/// |------|---------|
/// | 0  | success: every reply arrived (every target reachable) |
/// | 1  | other failure (I/O error, internal error, cannot bind) |
/// | 2  | refused: the port is closed |
/// | 3  | unreachable: no route, or the name did not resolve |
/// | 4  | connect timeout |
/// | 5  | reply timeout (including `--total-timeout`) |
/// | 6  | reset by the device |
/// | 7  | closed early: the device closed before a reply was complete |
/// | 8  | too large: a reply exceeded `--max-reply` |
/// | 9  | TLS: handshake failed, or the device's certificate was not accepted (unknown CA, name, expired, pin) |
/// | 10 | run: some devices answered with an error reply, none failed |
/// | 11 | run: some devices failed (refused, unreachable, timeouts, reset, closed early, too large, tls) |
/// | 12 | run: some devices' outcome is unknown (they may have received the commands) |
/// | 13 | run: interrupted; devices not attempted are `skipped` (`--resume` the run) |
/// | 14 | session refused: the device refused the handshake, greeted unexpectedly, or the login failed |
/// | 64 | usage: bad flags, bad command text or hex, bad address |
/// | 74 | output: a write to standard output failed (full disk, closed descriptor); said once on stderr at exit |
/// | 78 | invalid configuration or inventory file (`agent --config`, `simulate --profile`, `run -i`) |
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
    public static let refused: Int32 = 2
    public static let unreachable: Int32 = 3
    public static let connectTimeout: Int32 = 4
    public static let replyTimeout: Int32 = 5
    public static let reset: Int32 = 6
    public static let closedEarly: Int32 = 7
    public static let tooLarge: Int32 = 8
    public static let tls: Int32 = 9
    public static let runErrorReply: Int32 = 10
    public static let runFailed: Int32 = 11
    public static let runUnknown: Int32 = 12
    public static let runInterrupted: Int32 = 13
    public static let sessionRefused: Int32 = 14
    public static let usage: Int32 = 64
    public static let outputFailed: Int32 = 74
    public static let configInvalid: Int32 = 78

    /// The exit code for a device outcome.
    public static func code(for error: DeviceError.Code) -> Int32 {
        switch error {
        case .refused: return refused
        case .unreachable: return unreachable
        case .connectTimeout: return connectTimeout
        case .replyTimeout: return replyTimeout
        case .reset: return reset
        case .closedEarly: return closedEarly
        case .tooLarge: return tooLarge
        case .tls: return tls
        case .sessionRefused: return sessionRefused
        default: return failure
        }
    }

    static func exit(for error: DeviceError.Code) -> ExitCode { ExitCode(code(for: error)) }
}
