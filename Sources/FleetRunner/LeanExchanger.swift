import FleetClient
import FleetFraming
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import CFleetSockets
    import Glibc
#endif

/// One conversation for the lean exchanger.
struct LeanRequest: Sendable {
    var address: SocketAddressBytes
    /// `host:port`, for error texts.
    var device: String
    var commands: [[UInt8]]
    var configuration: DeviceClient.Configuration
    var completion: @Sendable (AttemptResult) -> Void
}

/// One attempt's outcome, from either client path.
struct AttemptResult: Sendable {
    var replies: [Reply]
    var error: DeviceError?
    var connectDuration: Duration?
}

#if os(Linux)
    /// The runner's fast path: conversations on raw non-blocking sockets driven by one epoll thread, about 8 system
    /// calls per device and no channel pipeline. It speaks exactly what ``DeviceClient`` speaks for the common case
    /// (a literal IPv4/IPv6 address and a self-delimiting reply framing) with the same timeouts, half-close policy,
    /// reply limit, stop-after-reply, error classes and error texts; the runner uses `DeviceClient` for the rest.
    final class LeanExchanger: @unchecked Sendable {  // loop state is confined to the loop thread; `queue` is locked
        typealias Request = LeanRequest

        private let epoll: Int32
        private let wake: Int32
        private let queue = NIOLockedValueBox<(requests: [Request], stopping: Bool)>(([], false))
        private var connections: [Conversation?] = []
        private var free: [Int] = []
        private var deadlines = DeadlineHeap()
        /// Numbers conversations, so that a deadline left by one never fires for the next in the same slot.
        private var serials: UInt64 = 0
        private let stopped = NIOLockedValueBox(false)
        private static let wakeToken = UInt64.max

        init() throws {
            epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
            wake = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
            guard epoll >= 0, wake >= 0 else { throw FanOutError() }
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: Self.wakeToken))
            epoll_ctl(epoll, EPOLL_CTL_ADD, wake, &event)
            let thread = Thread { [self] in loop() }
            thread.name = "fleetcmd-fanout"
            thread.start()
        }

        /// Starts a conversation; `completion` runs on the exchanger's thread.
        func submit(_ request: Request) {
            queue.withLockedValue { $0.requests.append(request) }
            var one: UInt64 = 1
            _ = Glibc.write(wake, &one, 8)
        }

        /// Stops the thread once every conversation has ended.
        func shutdown() {
            queue.withLockedValue { $0.stopping = true }
            var one: UInt64 = 1
            _ = Glibc.write(wake, &one, 8)
        }

        // MARK: - The loop

        private func loop() {
            var events = [epoll_event](repeating: epoll_event(), count: 256)
            var readBuffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let timeout: Int32
                if let next = deadlines.peek?.deadline {
                    let wait = next - ContinuousClock.now
                    timeout = wait <= .zero ? 0 : Int32(min(1000, Self.milliseconds(wait) + 1))
                } else {
                    timeout = 1000
                }
                let count = epoll_wait(epoll, &events, Int32(events.count), timeout)
                if count > 0 {
                    for index in 0..<Int(count) {
                        let event = events[index]
                        if event.data.u64 == Self.wakeToken {
                            var value: UInt64 = 0
                            _ = Glibc.read(wake, &value, 8)
                            continue
                        }
                        handle(slot: Int(event.data.u64), events: event.events, buffer: &readBuffer)
                    }
                }
                let (requests, stopping) = queue.withLockedValue { state in
                    defer { state.requests.removeAll(keepingCapacity: true) }
                    return (state.requests, state.stopping)
                }
                for request in requests { start(request) }
                expireDeadlines()
                if stopping, connections.allSatisfy({ $0 == nil }) { break }
            }
            Glibc.close(epoll)
            Glibc.close(wake)
        }

        private static func milliseconds(_ duration: Duration) -> Int {
            let (seconds, attoseconds) = duration.components
            return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
        }

        // MARK: - One conversation

        private final class Conversation {
            let request: Request
            let fd: Int32
            let serial: UInt64
            let startedAt = ContinuousClock.now
            var connectedAt: ContinuousClock.Instant?
            var scanner: FrameScanner
            var received: [UInt8] = []
            var replies: [Reply] = []
            /// Whether the first bytes were looked at for a TLS record (this path is plaintext only).
            var checkedForTLS = false
            var written = 0
            var writtenAt: [ContinuousClock.Instant]
            var output: [UInt8] = []
            var outputOffset = 0
            var halfCloseAfterOutput = false
            var generation = 0
            let isPipelined: Bool

            init(request: Request, fd: Int32, serial: UInt64) {
                self.request = request
                self.fd = fd
                self.serial = serial
                let configuration = request.configuration
                scanner = FrameScanner(spec: configuration.format.reply, maxFrameBytes: configuration.maxReplyBytes)
                writtenAt = Array(repeating: ContinuousClock.now, count: request.commands.count)
                isPipelined = configuration.stopAfterReply == nil
            }
        }

        private func start(_ request: Request) {
            let family = request.address.family
            let fd = socket(
                family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                request.completion(
                    AttemptResult(replies: [], error: Self.connectError(errno, request: request), connectDuration: nil))
                return
            }
            var on: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
            serials += 1
            let conversation = Conversation(request: request, fd: fd, serial: serials)
            let slot =
                free.popLast()
                ?? {
                    connections.append(nil); return connections.count - 1
                }()
            connections[slot] = conversation
            let result = request.address.withSockaddr { address, length in Glibc.connect(fd, address, length) }
            if result != 0, errno != EINPROGRESS {
                finish(slot, error: Self.connectError(errno, request: request))
                return
            }
            var event = epoll_event(events: EPOLLOUT.rawValue, data: epoll_data_t(u64: UInt64(slot)))
            epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
            let timeouts = request.configuration.timeouts
            deadlines.push(
                .init(
                    deadline: conversation.startedAt + min(timeouts.connect, timeouts.total ?? timeouts.connect),
                    slot: slot, serial: conversation.serial, generation: conversation.generation, kind: .connect))
            if let total = timeouts.total {
                deadlines.push(
                    .init(
                        deadline: conversation.startedAt + total, slot: slot, serial: conversation.serial,
                        generation: -1,
                        kind: .total))
            }
        }

        private func handle(slot: Int, events: UInt32, buffer: inout [UInt8]) {
            guard slot < connections.count, let conversation = connections[slot] else { return }
            if conversation.connectedAt == nil {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(conversation.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error != 0 {
                    finish(slot, error: Self.connectError(error, request: conversation.request))
                    return
                }
                guard events & EPOLLOUT.rawValue != 0 else { return }
                conversation.connectedAt = .now
                let batch = conversation.isPipelined ? conversation.request.commands.count : 1
                send(slot, conversation, upTo: batch)
                return
            }
            if events & EPOLLOUT.rawValue != 0, conversation.outputOffset < conversation.output.count {
                flush(slot, conversation)
                if connections[slot] == nil { return }
            }
            if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 {
                receive(slot, conversation, buffer: &buffer)
            }
        }

        /// Frames and writes commands `written ..< upTo`.
        private func send(_ slot: Int, _ conversation: Conversation, upTo end: Int) {
            let request = conversation.request
            var bytes: [UInt8] = []
            do {
                for index in conversation.written..<end {
                    try request.configuration.format.request.encode(request.commands[index], into: &bytes)
                }
            } catch {
                finish(
                    slot,
                    error: DeviceError(
                        code: .ioError, device: request.device, detail: "cannot frame command: \(error)",
                        mayHaveDelivered: conversation.written > 0))
                return
            }
            let now = ContinuousClock.now
            for index in conversation.written..<end { conversation.writtenAt[index] = now }
            conversation.written = end
            conversation.output = bytes
            conversation.outputOffset = 0
            conversation.halfCloseAfterOutput =
                end == request.commands.count
                && request.configuration.halfClose.halfClosesAfterLast(of: request.commands.count)
            armReplyTimer(slot, conversation)
            flush(slot, conversation)
        }

        private func flush(_ slot: Int, _ conversation: Conversation) {
            while conversation.outputOffset < conversation.output.count {
                let written = conversation.output.withUnsafeBytes { bytes in
                    Glibc.write(
                        conversation.fd, bytes.baseAddress! + conversation.outputOffset,  // non-empty: offset < count
                        bytes.count - conversation.outputOffset)
                }
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EAGAIN {
                        var event = epoll_event(
                            events: EPOLLIN.rawValue | EPOLLOUT.rawValue, data: epoll_data_t(u64: UInt64(slot)))
                        epoll_ctl(epoll, EPOLL_CTL_MOD, conversation.fd, &event)
                        return
                    }
                    finish(slot, error: Self.exchangeError(errno, device: conversation.request.device))
                    return
                }
                conversation.outputOffset += written
            }
            conversation.output = []
            conversation.outputOffset = 0
            if conversation.halfCloseAfterOutput { Glibc.shutdown(conversation.fd, Int32(SHUT_WR)) }
            var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(u64: UInt64(slot)))
            epoll_ctl(epoll, EPOLL_CTL_MOD, conversation.fd, &event)
        }

        private func receive(_ slot: Int, _ conversation: Conversation, buffer: inout [UInt8]) {
            let count = buffer.withUnsafeMutableBytes { bytes in
                Glibc.read(conversation.fd, bytes.baseAddress!, bytes.count)
            }
            if count < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                finish(slot, error: Self.exchangeError(errno, device: conversation.request.device))
                return
            }
            if count == 0 {
                endOfStream(slot, conversation)
                return
            }
            conversation.received.append(contentsOf: buffer[0..<count])
            let request = conversation.request
            if !conversation.checkedForTLS, conversation.received.count >= 3 {
                conversation.checkedForTLS = true
                if conversation.replies.isEmpty, TLSRecordSniffer.looksLikeTLS(conversation.received) {
                    finish(
                        slot, error: DeviceError(code: .tls, device: request.device, detail: "TLS: " + TLSRecordSniffer.message))
                    return
                }
            }
            while true {
                let step: FrameScanner.Step
                do {
                    step = try conversation.received.withUnsafeBytes { bytes throws(FramingError) in
                        try conversation.scanner.next(in: bytes)
                    }
                } catch {
                    finish(
                        slot,
                        error: DeviceError(
                            code: .tooLarge, device: request.device,
                            detail: "reply exceeds \(ByteCount.format(request.configuration.maxReplyBytes))"))
                    return
                }
                switch step {
                case .needMoreData(let discard):
                    if discard > 0 { conversation.received.removeFirst(discard) }
                    return
                case .frame(let match):
                    let index = conversation.replies.count
                    let payload = Array(conversation.received[match.payload])
                    conversation.replies.append(
                        Reply(
                            payload: payload, frame: Array(conversation.received[match.frame]),
                            elapsed: ContinuousClock.now - conversation.writtenAt[index]))
                    conversation.received.removeFirst(match.end)
                    let stop = request.configuration.stopAfterReply?(payload) ?? false
                    if conversation.replies.count == request.commands.count || stop {
                        finish(slot, error: nil)
                        return
                    }
                    if conversation.replies.count == conversation.written {
                        send(slot, conversation, upTo: conversation.written + 1)
                        if connections[slot] == nil { return }
                    } else {
                        armReplyTimer(slot, conversation)
                    }
                }
            }
        }

        private func endOfStream(_ slot: Int, _ conversation: Conversation) {
            let request = conversation.request
            let got = conversation.received.count
            let awaited = conversation.replies.count
            let what =
                got == 0
                ? (awaited == 0
                    ? "closed without replying" : "closed after \(awaited) of \(request.commands.count) replies")
                : "closed before the reply was complete (got \(got) \(got == 1 ? "byte" : "bytes"), \(missingEnd(request)))"
            finish(slot, error: DeviceError(code: .closedEarly, device: request.device, detail: what))
        }

        private func missingEnd(_ request: Request) -> String {
            let spec = request.configuration.format.reply
            if let terminator = spec.terminator {
                return "no \(FrameSpec.delimited(terminator: terminator).endDescription)"
            }
            return "expected \(spec.endDescription)"
        }

        private func progressNote(_ conversation: Conversation) -> String {
            var parts: [String] = []
            let count = conversation.request.commands.count
            if count > 1 { parts.append("got \(conversation.replies.count) of \(count) replies") }
            if !conversation.received.isEmpty {
                parts.append(
                    "\(conversation.received.count) bytes of a partial reply, \(missingEnd(conversation.request))")
            }
            return parts.isEmpty ? "" : " (\(parts.joined(separator: "; ")))"
        }

        private func armReplyTimer(_ slot: Int, _ conversation: Conversation) {
            conversation.generation += 1
            deadlines.push(
                .init(
                    deadline: .now + conversation.request.configuration.timeouts.reply, slot: slot,
                    serial: conversation.serial, generation: conversation.generation, kind: .reply))
        }

        private func expireDeadlines() {
            let now = ContinuousClock.now
            while let next = deadlines.peek, next.deadline <= now {
                deadlines.pop()
                guard let conversation = connections[next.slot], conversation.serial == next.serial else { continue }
                let timeouts = conversation.request.configuration.timeouts
                let device = conversation.request.device
                switch next.kind {
                case .connect where conversation.connectedAt == nil && next.generation == conversation.generation:
                    let limit = min(timeouts.connect, timeouts.total ?? timeouts.connect)
                    finish(
                        next.slot,
                        error: DeviceError(
                            code: .connectTimeout, device: device,
                            detail: "timed out after \(DurationText.format(limit))"))
                case .reply where next.generation == conversation.generation && conversation.connectedAt != nil:
                    finish(
                        next.slot,
                        error: DeviceError(
                            code: .replyTimeout, device: device,
                            detail:
                                "timed out after \(DurationText.format(timeouts.reply)) waiting for a reply\(progressNote(conversation))"
                        ))
                case .total where next.generation == -1:
                    if conversation.connectedAt == nil {
                        finish(
                            next.slot,
                            error: DeviceError(
                                code: .connectTimeout, device: device,
                                detail: "timed out after \(DurationText.format(timeouts.total ?? .zero))"))
                    } else {
                        finish(
                            next.slot,
                            error: DeviceError(
                                code: .replyTimeout, device: device,
                                detail:
                                    "total timeout of \(DurationText.format(timeouts.total ?? .zero)) expired\(progressNote(conversation))"
                            ))
                    }
                default:
                    continue
                }
            }
        }

        private func finish(_ slot: Int, error: DeviceError?) {
            guard let conversation = connections[slot] else { return }
            connections[slot] = nil
            free.append(slot)
            Glibc.close(conversation.fd)
            let connectDuration = conversation.connectedAt.map { $0 - conversation.startedAt }
            conversation.request.completion(
                AttemptResult(replies: conversation.replies, error: error, connectDuration: connectDuration))
        }

        // MARK: - Error classes, as DeviceClient reports them

        private static func connectError(_ code: Int32, request: Request) -> DeviceError {
            let device = request.device
            switch code {
            case ECONNREFUSED:
                return DeviceError(code: .refused, device: device, detail: "connection refused")
            case ETIMEDOUT:
                return DeviceError(code: .connectTimeout, device: device, detail: "timed out")
            default:
                return DeviceError(
                    code: .unreachable, device: device, detail: String(cString: strerror(code)).lowercased())
            }
        }

        private static func exchangeError(_ code: Int32, device: String) -> DeviceError {
            switch code {
            case ECONNRESET, EPIPE:
                return DeviceError(code: .reset, device: device, detail: "connection reset by peer")
            default:
                return DeviceError(code: .ioError, device: device, detail: String(cString: strerror(code)).lowercased())
            }
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

/// The exchanger's thread could not be set up (the runner then uses `DeviceClient` alone).
struct FanOutError: Error {}

/// A socket address as plain bytes (IPv4 or IPv6 literal), built once per target.
struct SocketAddressBytes: Sendable {
    let family: Int32
    private let storage: [UInt8]

    /// `nil` unless `host` is an IPv4 or IPv6 literal.
    init?(host: String, port: Int) {
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            family = AF_INET
            storage = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            family = AF_INET6
            storage = withUnsafeBytes(of: &v6) { Array($0) }
            return
        }
        return nil
    }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        storage.withUnsafeBytes { bytes in
            body(bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count))  // non-empty
        }
    }
}

/// Deadlines in time order (a binary min-heap); stale entries are skipped when they come up.
struct DeadlineHeap {
    enum Kind { case connect, reply, total }

    struct Entry {
        var deadline: ContinuousClock.Instant
        var slot: Int
        var serial: UInt64
        var generation: Int
        var kind: Kind
    }

    private var items: [Entry] = []

    var peek: Entry? { items.first }

    mutating func push(_ entry: Entry) {
        items.append(entry)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            if smallest == parent { return }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
