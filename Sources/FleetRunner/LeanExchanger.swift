import FleetClient
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import CFleetSockets
    import Glibc
#endif

#if os(Linux)
    /// The runner's fast path: conversations on raw non-blocking sockets driven by epoll threads, about 8 system
    /// calls per device and no channel pipeline. It is the third shell of ``DeviceConversation`` (beside the NIO
    /// one-shot and interactive ones), so it speaks exactly what ``DeviceClient`` speaks; the runner uses it for
    /// plaintext conversations with literal IPv4/IPv6 addresses and self-delimiting replies, `DeviceClient` for the
    /// rest. Only bytes, the socket's state and one heap of deadlines live here.
    final class LeanExchanger: Sendable {
        typealias Request = LeanRequest

        /// One epoll thread: its descriptors and the queue of conversations handed to it.
        private struct Loop: Sendable {
            let epoll: Int32
            let wake: Int32
            let queue = NIOLockedValueBox<(requests: [Request], stopping: Bool)>(([], false))
        }

        private let loops: [Loop]
        /// Where the next conversation submitted from outside the loops goes (round robin).
        private let nextLoop = NIOLockedValueBox(0)

        /// - Parameter threads: how many epoll threads share the conversations (at least one). A conversation
        ///   stays on the thread that started it; a run's next device starts on the thread whose completion asks
        ///   for it, so each thread keeps its share of the window without waking another.
        init(threads: Int = 1) throws {
            var loops: [Loop] = []
            for _ in 0..<max(1, threads) {
                let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
                let wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
                guard epoll >= 0, wake >= 0 else {
                    if epoll >= 0 { Glibc.close(epoll) }
                    if wake >= 0 { Glibc.close(wake) }
                    for loop in loops {
                        Glibc.close(loop.epoll)
                        Glibc.close(loop.wake)
                    }
                    throw FanOutError()
                }
                var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: LeanLoop.wakeToken))
                epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event)
                loops.append(Loop(epoll: epoll, wake: wake))
            }
            self.loops = loops
            for (index, loop) in loops.enumerated() {
                // The loop's state is made on its own thread and never leaves it: nothing of it is shared.
                let thread = Thread { LeanLoop(epoll: loop.epoll, wake: loop.wake, queue: loop.queue).run() }
                thread.name = "fleetcmd-fanout-\(index)"
                thread.start()
            }
        }

        /// The number of epoll threads a run of `width` conversations at once gets: one per 128 conversations in
        /// flight, at most one per core (a small run starts no thread it would not keep busy).
        static func threads(forWidth width: Int, cores: Int) -> Int {
            max(1, min(cores, width / 128))
        }

        /// Starts a conversation; `completion` runs on the thread that holds it.
        func submit(_ request: Request) {
            // From a completion (a loop's own thread, where a run starts most conversations) the conversation stays
            // there, and the loop takes the queue before it waits again: no wake-up, a system call saved per device.
            if let loop = loops.first(where: { LeanLoop.isCurrentThread(wake: $0.wake) }) {
                loop.queue.withLockedValue { $0.requests.append(request) }
                return
            }
            let loop = loops[
                nextLoop.withLockedValue { next in
                    defer { next = (next + 1) % loops.count }
                    return next
                }]
            loop.queue.withLockedValue { $0.requests.append(request) }
            var one: UInt64 = 1
            _ = Glibc.write(loop.wake, &one, 8)
        }

        /// Stops the threads once every conversation has ended.
        func shutdown() {
            for loop in loops {
                loop.queue.withLockedValue { $0.stopping = true }
                var one: UInt64 = 1
                _ = Glibc.write(loop.wake, &one, 8)
            }
        }
    }

#else
    /// Elsewhere than Linux there is no epoll: the runner uses `DeviceClient` for every device.
    final class LeanExchanger: Sendable {
        typealias Request = LeanRequest

        init(threads: Int = 1) throws { throw FanOutError() }
        static func threads(forWidth width: Int, cores: Int) -> Int { 1 }
        func submit(_ request: Request) {}
        func shutdown() {}
    }
#endif
