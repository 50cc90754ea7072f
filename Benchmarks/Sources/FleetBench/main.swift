// A closed-loop load generator for agents that speak esc-cr (ESC + command + CR, reply to NUL).
//
//   FleetBench load HOST PORT CONNECTIONS DEPTH SECONDS [COMMAND]
//   FleetBench fanout BASE_ADDRESS DEVICES PORT SLOTS SECONDS [COMMAND]
//
// load: each connection keeps DEPTH commands in flight: it writes DEPTH frames, then one more per reply.
// fanout: SLOTS conversations at once, each a new connection to the next device (device n at the n-th address
// after BASE_ADDRESS, as `fleetcmd simulate --addresses`): connect, one command, reply, close (a fleet run's
// pattern). Prints one JSON line: replies, seconds, replies_per_s, p50_ms, p99_ms (write to reply, or connect
// to reply for fanout).
import Foundation
import NIOCore
import NIOPosix

final class LoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let frame: ByteBuffer
    private let depth: Int
    private let recorder: Recorder
    private var sentAt: [UInt64] = []
    private var head = 0

    init(frame: ByteBuffer, depth: Int, recorder: Recorder) {
        self.frame = frame
        self.depth = depth
        self.recorder = recorder
    }

    func channelActive(context: ChannelHandlerContext) {
        for _ in 0..<depth { send(context: context, flush: false) }
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let now = DispatchTime.now().uptimeNanoseconds
        var replies = 0
        buffer.withUnsafeReadableBytes { bytes in for byte in bytes where byte == 0 { replies += 1 } }
        for _ in 0..<replies {
            recorder.record(now - sentAt[head])
            head += 1
            if recorder.isRunning { send(context: context, flush: false) }
        }
        if head > 4096 {
            sentAt.removeFirst(head)
            head = 0
        }
        context.flush()
    }

    private func send(context: ChannelHandlerContext, flush: Bool) {
        sentAt.append(DispatchTime.now().uptimeNanoseconds)
        context.write(wrapOutboundOut(frame), promise: nil)
    }
}

final class Recorder: @unchecked Sendable {
    // Guarded by `lock`: event loop threads record, the main thread reads at the end.
    private let lock = NSLock()
    private var samples: [UInt64] = []
    private var count = 0
    private var running = true

    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    func record(_ nanoseconds: UInt64) {
        lock.lock()
        count += 1
        if count % 16 == 0 { samples.append(nanoseconds) }  // a 1-in-16 sample bounds memory
        lock.unlock()
    }

    func stop() -> (count: Int, samples: [UInt64]) {
        lock.lock()
        defer { lock.unlock() }
        running = false
        return (count, samples.sorted())
    }
}

/// One conversation per connection: connect, send, read to NUL, close; then the next device.
final class FanOutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private let frame: ByteBuffer
    private let startedAt: UInt64
    private let done: (Bool, UInt64) -> Void
    private var finished = false

    init(frame: ByteBuffer, startedAt: UInt64, done: @escaping (Bool, UInt64) -> Void) {
        self.frame = frame
        self.startedAt = startedAt
        self.done = done
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        guard !finished, buffer.readableBytesView.contains(0) else { return }
        finished = true
        done(true, DispatchTime.now().uptimeNanoseconds - startedAt)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !finished {
            finished = true
            done(false, 0)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

func fanOut(_ arguments: [String]) throws -> Never {
    let parts = arguments[2].split(separator: ".").compactMap { UInt32($0) }
    guard parts.count == 4, let devices = Int(arguments[3]), let port = Int(arguments[4]), let slots = Int(arguments[5]),
        let seconds = Double(arguments[6])
    else {
        FileHandle.standardError.write("usage: FleetBench fanout BASE_ADDRESS DEVICES PORT SLOTS SECONDS [COMMAND]\n".data(using: .utf8)!)
        exit(64)
    }
    let base = parts.reduce(0) { $0 << 8 | $1 }
    let command = arguments.count > 7 ? arguments[7] : "PING"
    let frame = ByteBuffer(bytes: [0x1B] + Array(command.utf8) + [0x0D])
    let targets = try (1...devices).map { number -> SocketAddress in
        let address = base + UInt32(number)
        return try SocketAddress(ipAddress: "\(address >> 24).\((address >> 16) & 255).\((address >> 8) & 255).\(address & 255)", port: port)
    }
    let recorder = Recorder()
    let failures = ManagedCounter()
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let loop = group.next()
    let next = ManagedCounter()
    @Sendable func start() {
        guard recorder.isRunning else { return }
        let target = targets[next.increment() % targets.count]
        let startedAt = DispatchTime.now().uptimeNanoseconds
        ClientBootstrap(group: loop)
            .channelInitializer { [frame] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        FanOutHandler(frame: frame, startedAt: startedAt) { ok, nanoseconds in
                            if ok { recorder.record(nanoseconds) } else { _ = failures.increment() }
                            loop.execute { start() }
                        })
                }
            }
            .connect(to: target)
            .whenFailure { _ in
                _ = failures.increment()
                loop.execute { start() }
            }
    }
    loop.execute { for _ in 0..<slots { start() } }
    let began = Date()
    Thread.sleep(forTimeInterval: seconds)
    let (count, samples) = recorder.stop()
    let elapsed = Date().timeIntervalSince(began)
    Thread.sleep(forTimeInterval: 0.5)
    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        return Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1e6
    }
    print(String(format: "{\"replies\": %d, \"failures\": %d, \"seconds\": %.2f, \"replies_per_s\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}", count, failures.value, elapsed, Double(count) / elapsed, percentile(0.5), percentile(0.99)))
    exit(0)
}

final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count - 1
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}

let arguments = CommandLine.arguments
if arguments.count >= 7, arguments[1] == "fanout" { try fanOut(arguments) }
guard arguments.count >= 7, arguments[1] == "load", let port = Int(arguments[3]), let connections = Int(arguments[4]),
    let depth = Int(arguments[5]), let seconds = Double(arguments[6])
else {
    FileHandle.standardError.write("usage: FleetBench load HOST PORT CONNECTIONS DEPTH SECONDS [COMMAND]\n".data(using: .utf8)!)
    exit(64)
}
let command = arguments.count > 7 ? arguments[7] : "PING"
let host = arguments[2]
let recorder = Recorder()
let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
var frame = ByteBuffer()
frame.writeBytes([0x1B] + Array(command.utf8) + [0x0D])
let target = try SocketAddress(ipAddress: host, port: port)
var channels: [any Channel] = []
for index in 0..<connections {
    let bootstrap = ClientBootstrap(group: group).channelInitializer { [frame] channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(LoadHandler(frame: frame, depth: depth, recorder: recorder))
        }
    }
    // Spread sources over 127.0.9.x so per-source connection limits do not interfere.
    let source = try SocketAddress(ipAddress: "127.0.9.\(index % 250 + 1)", port: 0)
    channels.append(try bootstrap.bind(to: source).connect(to: target).wait())
}
let began = Date()
Thread.sleep(forTimeInterval: seconds)
let (count, samples) = recorder.stop()
let elapsed = Date().timeIntervalSince(began)
for channel in channels { channel.close(promise: nil) }
func percentile(_ p: Double) -> Double {
    guard !samples.isEmpty else { return 0 }
    return Double(samples[min(samples.count - 1, Int(Double(samples.count) * p))]) / 1e6
}
print(String(format: "{\"replies\": %d, \"seconds\": %.2f, \"replies_per_s\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}", count, elapsed, Double(count) / elapsed, percentile(0.5), percentile(0.99)))
try? group.syncShutdownGracefully()
