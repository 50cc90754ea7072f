#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A loopback port that refuses connections for as long as the value lives: a TCP socket bound to 127.0.0.1 that
/// never listens and does not share its address, so nothing else can take the port meanwhile.
///
/// A port that was free a moment ago (a device started and stopped) is not enough: a test running alongside may
/// be given it for its own listener, and a "refused" test then gets that listener's reply (it happened in CI).
public final class ClosedPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        (descriptor, _, port) = try LoopbackSocket.bound()
    }

    deinit { close(descriptor) }
}
