import FleetClient
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import CFleetSockets
    import Glibc
#endif

#if os(Linux)
    /// The runner's fast path: conversations on raw non-blocking sockets driven by one epoll thread, about 8 system
    /// calls per device and no channel pipeline. It is the third shell of ``DeviceConversation`` (beside the NIO
    /// one-shot and interactive ones), so it speaks exactly what ``DeviceClient`` speaks; the runner uses it for
    /// plaintext conversations with literal IPv4/IPv6 addresses and self-delimiting replies, `DeviceClient` for the
    /// rest. Only bytes, the socket's state and one heap of deadlines live here.
    final class LeanExchanger: Sendable {
        typealias Request = LeanRequest

        private let epoll: Int32
        private let wake: Int32
        private let queue = NIOLockedValueBox<(requests: [Request], stopping: Bool)>(([], false))

        init() throws {
            epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
            wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
            guard epoll >= 0, wake >= 0 else { throw FanOutError() }
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: LeanLoop.wakeToken))
            epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event)
            let (epoll, wake, queue) = (self.epoll, self.wake, self.queue)
            // The loop's state is made on its own thread and never leaves it: nothing of it is shared.
            let thread = Thread { LeanLoop(epoll: epoll, wake: wake, queue: queue).run() }
            thread.name = "fleetcmd-fanout"
            thread.start()
        }

        /// Starts a conversation; `completion` runs on the exchanger's thread.
        func submit(_ request: Request) {
            queue.withLockedValue { $0.requests.append(request) }
            // From a completion (the loop's own thread, where a run starts most conversations) the loop takes the
            // queue before it waits again: no wake-up needed, a system call saved per device.
            guard !LeanLoop.isCurrentThread(wake: wake) else { return }
            var one: UInt64 = 1
            _ = Glibc.write(wake, &one, 8)
        }

        /// Stops the thread once every conversation has ended.
        func shutdown() {
            queue.withLockedValue { $0.stopping = true }
            var one: UInt64 = 1
            _ = Glibc.write(wake, &one, 8)
        }
    }

#else
    /// Elsewhere than Linux there is no epoll: the runner uses `DeviceClient` for every device.
    final class LeanExchanger: Sendable {
        typealias Request = LeanRequest

        init() throws { throw FanOutError() }
        func submit(_ request: Request) {}
        func shutdown() {}
    }
#endif
