import FleetClient
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import CFleetSockets
    import Glibc
#endif

#if os(Linux)
    /// The epoll thread of a ``LeanExchanger``: every socket, conversation and deadline of the runner's fast path,
    /// confined to that one thread (it is made there and never leaves it).
    final class LeanLoop {
        typealias Request = LeanRequest
        static let wakeToken = UInt64.max

        private let epoll: Int32
        private let wake: Int32
        private let queue: NIOLockedValueBox<(requests: [Request], stopping: Bool)>
        private var connections: [Connection?] = []
        private var free: [Int] = []
        private var deadlines = DeadlineHeap()
        /// Numbers connections, so that a deadline left by one never fires for the next in the same slot.
        private var serials: UInt64 = 0

        init(epoll: Int32, wake: Int32, queue: NIOLockedValueBox<(requests: [Request], stopping: Bool)>) {
            self.epoll = epoll
            self.wake = wake
            self.queue = queue
        }

        /// Whether the calling thread is the loop that `wake` wakes (recorded on the loop's thread when it starts).
        static func isCurrentThread(wake: Int32) -> Bool { cfleet_current_loop() == wake }

        func run() {
            cfleet_set_current_loop(wake)
            defer { cfleet_set_current_loop(-1) }
            var events = [epoll_event](repeating: epoll_event(), count: 256)
            var readBuffer = [UInt8](repeating: 0, count: 65536)
            while true {
                // The queue first (also before the first wait: a request queued before the loop started needs no
                // wake-up), until it stays empty: a conversation that fails at once (a refused connect) completes
                // here, and the run submits the next device from that completion, on this thread, without a wake-up.
                var stopping = false
                while true {
                    let (requests, stop) = queue.withLockedValue { state in
                        defer { state.requests.removeAll(keepingCapacity: true) }
                        return (state.requests, state.stopping)
                    }
                    stopping = stop
                    if requests.isEmpty { break }
                    start(requests)
                }
                expireDeadlines(events: &events, buffer: &readBuffer)
                if stopping, connections.allSatisfy({ $0 == nil }) { break }
                let timeout: Int32
                if let next = deadlines.peek?.deadline {
                    let wait = next - ContinuousClock.now
                    timeout = wait <= .zero ? 0 : Int32(min(1000, Self.milliseconds(wait) + 1))
                } else {
                    timeout = 1000
                }
                let count = epoll_wait(epoll, &events, Int32(events.count), timeout)
                if count > 0 { handle(events[..<Int(count)], buffer: &readBuffer) }
            }
            Glibc.close(epoll)
            Glibc.close(wake)
        }

        private func handle(_ ready: ArraySlice<epoll_event>, buffer: inout [UInt8]) {
            for event in ready {
                if event.data.u64 == Self.wakeToken {
                    var value: UInt64 = 0
                    _ = Glibc.read(wake, &value, 8)
                    continue
                }
                handle(slot: Int(event.data.u64), events: event.events, buffer: &buffer)
            }
        }

        private static func milliseconds(_ duration: Duration) -> Int {
            let (seconds, attoseconds) = duration.components
            return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        }

        // MARK: - One connection

        /// A socket and the conversation it carries.
        private final class Connection {
            let request: Request
            let fd: Int32
            let serial: UInt64
            var conversation: DeviceConversation
            var isConnected = false
            /// Bytes to write, from `outputOffset` on; then a half-close if asked.
            var output: [UInt8] = []
            var outputOffset = 0
            var halfCloseAfterOutput = false
            /// Whether TCP_NODELAY is set (before the first write that no half-close follows).
            var noDelay = false
            /// The deadline last pushed to the heap (others there for this connection are stale).
            var armed: ContinuousClock.Instant?

            init(request: Request, fd: Int32, serial: UInt64) {
                self.request = request
                self.fd = fd
                self.serial = serial
                self.conversation = DeviceConversation(
                    commands: request.commands, configuration: request.configuration, device: request.device,
                    startedAt: .now)
            }
        }

        /// Starts `requests`, once the intents they carry are written: one write per journal (in practice one),
        /// before any of their first bytes. A device whose intent cannot be written is not started.
        private func start(_ requests: [Request]) {
            var intents: [(journal: RunJournal, devices: [String], refused: String?)] = []
            for request in requests {
                guard let intent = request.intent else { continue }
                if let index = intents.firstIndex(where: { $0.journal === intent.journal }) {
                    intents[index].devices.append(intent.device)
                } else {
                    intents.append((intent.journal, [intent.device], nil))
                }
            }
            for index in intents.indices {
                do {
                    try intents[index].journal.intents(intents[index].devices)
                } catch {
                    intents[index].refused = "\(error)"
                }
            }
            for request in requests {
                if let intent = request.intent,
                    let refused = intents.first(where: { $0.journal === intent.journal })?.refused
                {
                    request.completion(AttemptResult(exchange: nil, notSent: refused))
                    continue
                }
                start(request)
            }
        }

        private func start(_ request: Request) {
            let family = request.address.family
            let fd = socket(
                family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            let socketError = errno
            serials += 1
            let connection = Connection(request: request, fd: fd, serial: serials)
            let slot =
                free.popLast()
                ?? {
                    connections.append(nil); return connections.count - 1
                }()
            connections[slot] = connection
            guard fd >= 0 else {
                apply(connection.conversation.failed(errno: socketError, now: .now), slot, connection)
                return
            }
            connection.conversation.connecting(now: .now)
            let result = request.address.withSockaddr { address, length in Glibc.connect(fd, address, length) }
            let connectError = errno
            if result != 0, connectError != EINPROGRESS {
                apply(connection.conversation.failed(errno: connectError, now: .now), slot, connection)
                return
            }
            var event = epoll_event(events: EPOLLOUT.rawValue, data: epoll_data_t(u64: UInt64(slot)))
            epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
            rearm(slot, connection)
        }

        private func handle(slot: Int, events: UInt32, buffer: inout [UInt8]) {
            guard slot < connections.count, let connection = connections[slot] else { return }
            if !connection.isConnected {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(connection.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error != 0 {
                    apply(connection.conversation.failed(errno: error, now: .now), slot, connection)
                    return
                }
                guard events & EPOLLOUT.rawValue != 0 else { return }
                connection.isConnected = true
                apply(connection.conversation.connected(now: .now), slot, connection)
                return
            }
            if events & EPOLLOUT.rawValue != 0, connection.outputOffset < connection.output.count {
                flush(slot, connection)
                if connections[slot] == nil { return }
            }
            if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                receive(slot, connection, buffer: &buffer)
            }
        }

        /// Carries out what the conversation asked for.
        private func apply(_ output: DeviceConversation.Output, _ slot: Int, _ connection: Connection) {
            if let exchange = output.finished {
                finish(slot, connection, exchange)
                return
            }
            if !output.write.isEmpty {
                // A write the half-close follows needs no TCP_NODELAY: the FIN pushes out whatever Nagle's
                // algorithm holds back. The one-shot conversation (one command, then half-close) is one write and
                // a FIN, and saves the system call; a write that waits for a reply before the next gets it.
                if !output.halfClose, !connection.noDelay {
                    var on: Int32 = 1
                    setsockopt(connection.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
                    connection.noDelay = true
                }
                if connection.outputOffset >= connection.output.count {
                    connection.output = output.write
                    connection.outputOffset = 0
                } else {
                    connection.output += output.write
                }
                connection.halfCloseAfterOutput = output.halfClose
                flush(slot, connection)
                guard connections[slot] != nil else { return }
            }
            rearm(slot, connection)
        }

        private func flush(_ slot: Int, _ connection: Connection) {
            while connection.outputOffset < connection.output.count {
                let written = connection.output.withUnsafeBytes { bytes in
                    Glibc.write(
                        connection.fd, bytes.baseAddress! + connection.outputOffset,  // non-empty: offset < count
                        bytes.count - connection.outputOffset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN {
                        var event = epoll_event(
                            events: EPOLLIN.rawValue | EPOLLOUT.rawValue, data: epoll_data_t(u64: UInt64(slot)))
                        epoll_ctl(epoll, EPOLL_CTL_MOD, connection.fd, &event)
                        return
                    }
                    let writeError = errno
                    apply(connection.conversation.failed(errno: writeError, now: .now), slot, connection)
                    return
                }
                connection.outputOffset += written
            }
            connection.output = []
            connection.outputOffset = 0
            if connection.halfCloseAfterOutput { Glibc.shutdown(connection.fd, Int32(SHUT_WR)) }
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: UInt64(slot)))
            epoll_ctl(epoll, EPOLL_CTL_MOD, connection.fd, &event)
        }

        private func receive(_ slot: Int, _ connection: Connection, buffer: inout [UInt8]) {
            let count = buffer.withUnsafeMutableBytes { bytes in
                Glibc.read(connection.fd, bytes.baseAddress!, bytes.count)
            }
            if count < 0 {
                let readError = errno
                if readError == EAGAIN || readError == EINTR { return }
                apply(connection.conversation.failed(errno: readError, now: .now), slot, connection)
                return
            }
            let output =
                count == 0
                ? connection.conversation.peerClosed(now: .now)
                : buffer.withUnsafeBytes { bytes in
                    connection.conversation.received(UnsafeRawBufferPointer(rebasing: bytes[0..<count]), now: .now)
                }
            apply(output, slot, connection)
        }

        /// Pushes the conversation's next deadline to the heap when it changed.
        private func rearm(_ slot: Int, _ connection: Connection) {
            let next = connection.conversation.nextDeadlineInPlace()
            guard next != connection.armed else { return }
            connection.armed = next
            if let next { deadlines.push(.init(deadline: next, slot: slot, serial: connection.serial)) }
        }

        /// Ends what is overdue. What is ready is taken in first: after this thread was held up (a disk slow to
        /// take the journal, a stopped terminal, a loaded machine), a connection made or a reply received in time
        /// must not be reported as timed out only because its event had not been read yet.
        private func expireDeadlines(events: inout [epoll_event], buffer: inout [UInt8]) {
            var now = ContinuousClock.now
            // Entries left by connections that finished or re-armed are dropped without a look at the sockets.
            while let next = deadlines.peek, next.deadline <= now, live(next) == nil { deadlines.pop() }
            guard let first = deadlines.peek, first.deadline <= now else { return }
            // Bounded: a loop that is always behind still gets to its deadlines.
            for _ in 0..<64 {
                let count = epoll_wait(epoll, &events, Int32(events.count), 0)
                guard count > 0 else { break }
                handle(events[..<Int(count)], buffer: &buffer)
                if Int(count) < events.count { break }
            }
            now = ContinuousClock.now
            while let next = deadlines.peek, next.deadline <= now {
                deadlines.pop()
                guard let connection = live(next) else { continue }
                connection.armed = nil
                apply(connection.conversation.deadlinePassed(now: now), next.slot, connection)
            }
        }

        /// The connection a deadline entry is still armed for, or `nil` when the entry is stale.
        private func live(_ entry: DeadlineHeap.Entry) -> Connection? {
            guard let connection = connections[entry.slot], connection.serial == entry.serial,
                connection.armed == entry.deadline
            else { return nil }
            return connection
        }

        private func finish(_ slot: Int, _ connection: Connection, _ exchange: Exchange) {
            guard connections[slot] === connection else { return }
            connections[slot] = nil
            free.append(slot)
            if connection.fd >= 0 { Glibc.close(connection.fd) }
            connection.request.completion(AttemptResult(exchange: exchange))
        }
    }
#endif

extension DeviceConversation {
    /// ``nextDeadline``, read in place: the getter called on a conversation stored in a class copied the whole
    /// conversation (a dozen references retained and released) after every event; through `inout` it is borrowed.
    fileprivate mutating func nextDeadlineInPlace() -> ContinuousClock.Instant? { nextDeadline }
}
