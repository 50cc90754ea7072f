import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The sd_notify(3) protocol without libsystemd: each state change is one datagram of `KEY=VALUE` lines sent to
/// the AF_UNIX socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Outside systemd
/// (no `$NOTIFY_SOCKET`) there is no notifier and nothing is sent.
///
/// ```
/// READY=1              the agent listens on every address
/// RELOADING=1          SIGHUP taken (with MONOTONIC_USEC), then READY=1 again
/// STOPPING=1           graceful shutdown began
/// WATCHDOG=1           every half of $WATCHDOG_USEC while the event loops answer
/// ```
struct SystemdNotifier: Sendable {
    /// Where the datagrams go, as given in `$NOTIFY_SOCKET`.
    let socketName: String

    /// The notifier for this process's environment; `nil` when not started by systemd with `Type=notify`.
    init?(environment: [String: String] = ProcessEnvironment.variables) {
        guard let name = environment["NOTIFY_SOCKET"], name.hasPrefix("/") || name.hasPrefix("@"),
            name.utf8.count < 108
        else { return nil }
        socketName = name
    }

    /// Sends `fields` (each `KEY=VALUE`) as one datagram. Returns whether it was sent; systemd's absence is not an
    /// error worth stopping for, so callers only log a failure.
    @discardableResult
    func notify(_ fields: [String]) -> Bool {
        let message = Array(fields.joined(separator: "\n").utf8)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketName.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // the abstract namespace starts with a NUL
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { bytes in
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), socketAddress, length)
                }
            }
        }
        return sent == message.count
    }

    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, when it is set for this process
    /// (`$WATCHDOG_PID`, if set, is this process); `nil` when the unit has no watchdog.
    static func watchdogInterval(
        environment: [String: String] = ProcessEnvironment.variables, pid: Int32 = getpid()
    ) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = Int64(text), microseconds > 0 else {
            return nil
        }
        if let owner = environment["WATCHDOG_PID"], owner != String(pid) { return nil }
        return .microseconds(microseconds / 2)
    }
}
