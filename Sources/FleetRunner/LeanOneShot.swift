public import FleetClient
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import CFleetSockets
    import Glibc
#endif

/// One conversation held on the calling thread by the runner's lean path (``LeanLoop``, the raw-socket shell of
/// ``DeviceConversation``): what `fleetcmd send` uses for a literal address, so that a one-shot starts no event-loop
/// threads and builds no channel pipeline (NIO's set-up was a third of `send`'s CPU). The conversation is the same
/// core as `DeviceClient`'s; a test holds both against the same faulty devices.
public enum LeanOneShot {
    /// The exchange with `address`, or `nil` when the lean path cannot hold it (a name to resolve, TLS, a session,
    /// replies that end at close or silence: ``LeanRequest/address(host:port:for:)``) or cannot start here; the
    /// caller then uses `DeviceClient`. Blocks the calling thread until the conversation ends (its time limits
    /// apply as on every path).
    public static func exchange(
        _ commands: [[UInt8]], with address: DeviceAddress, configuration: DeviceClient.Configuration
    ) -> Exchange? {
        #if os(Linux)
            guard let bytes = LeanRequest.address(host: address.host, port: address.port, for: configuration) else {
                return nil
            }
            let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
            let wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
            guard epoll >= 0, wake >= 0 else {
                if epoll >= 0 { close(epoll) }
                if wake >= 0 { close(wake) }
                return nil
            }
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: LeanLoop.wakeToken))
            epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event)
            let result = NIOLockedValueBox<Exchange?>(nil)
            let request = LeanRequest(
                address: bytes, device: address.description, commands: commands, configuration: configuration,
                intent: nil, completion: { attempt in result.withLockedValue { $0 = attempt.exchange } })
            // Queued before the loop starts: it takes its queue before it first waits (no wake-up).
            let queue = NIOLockedValueBox<(requests: [LeanRequest], stopping: Bool)>(([request], true))
            LeanLoop(epoll: epoll, wake: wake, queue: queue).run()  // closes both descriptors
            return result.withLockedValue { $0 }
        #else
            return nil
        #endif
    }
}
