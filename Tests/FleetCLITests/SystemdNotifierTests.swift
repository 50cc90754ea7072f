import Foundation
import Testing

@testable import FleetCLI

#if canImport(Glibc)
    import Glibc
#endif

/// A datagram socket of our own stands in for systemd's `$NOTIFY_SOCKET`.
private func datagramSocket(bound name: String) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    var path = Array(name.utf8)
    if path.first == UInt8(ascii: "@") { path[0] = 0 }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.enumerated() { raw[index] = byte }
    }
    let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    try #require(bound == 0)
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

private func receive(_ fd: Int32) -> String {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = recv(fd, &buffer, buffer.count, 0)
    return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : ""
}

@Suite struct SystemdNotifierTests {
    @Test func statesArriveAsOneDatagramEachAtAPathAndInTheAbstractNamespace() throws {
        let path = NSTemporaryDirectory() + "fleetcmd-notify-\(getpid()).sock"
        unlink(path)
        for name in [path, "@fleetcmd-notify-\(getpid())"] {
            let fd = try datagramSocket(bound: name)
            defer { close(fd) }
            let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": name]))
            #expect(notifier.notify(["READY=1", "STATUS=listening"]))
            #expect(receive(fd) == "READY=1\nSTATUS=listening")
            #expect(notifier.notify(["STOPPING=1"]))
            #expect(receive(fd) == "STOPPING=1")
        }
        unlink(path)
    }

    @Test func withoutSystemdThereIsNoNotifier() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]) == nil)
    }

    @Test func theWatchdogPingsAtHalfItsIntervalAndOnlyForItsOwnProcess() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"], pid: 7) == .seconds(15))
        #expect(
            SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "7"], pid: 7)
                == .seconds(15))
        #expect(
            SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "8"], pid: 7)
                == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "0"], pid: 7) == nil)
        #expect(SystemdNotifier.monotonicField().hasPrefix("MONOTONIC_USEC="))
    }
}
