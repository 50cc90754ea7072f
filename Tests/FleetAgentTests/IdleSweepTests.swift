import FleetFraming
import NIOCore
import NIOEmbedded
import Testing

@testable import FleetAgent

/// The idle sweep that replaced a timer per connection, on an `EmbeddedEventLoop` (time advanced by hand).
@Suite struct IdleSweepTests {
    private func connection(_ sweep: IdleSweep, loop: EmbeddedEventLoop, stats: AgentStats) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandler(
            AgentFramingHandler(
                spec: FrameFormat.escCR.request, maxFrameBytes: 64, frameTimeout: .seconds(600), stats: stats,
                sweep: sweep.loop(for: loop)))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9100)).wait()
        return channel
    }

    @Test func aQuietConnectionClosesAfterTheTimeoutAndABusyOneStays() throws {
        let loop = EmbeddedEventLoop()
        let stats = AgentStats()
        let sweep = IdleSweep(group: loop, timeout: .seconds(8))
        #expect(IdleSweep.interval(for: .seconds(8)) == .seconds(1))
        let quiet = try connection(sweep, loop: loop, stats: stats)
        let talking = try connection(sweep, loop: loop, stats: stats)
        #expect(sweep.loop(for: loop)?.count == 2)
        for _ in 0..<7 {
            loop.advanceTime(by: .seconds(1))
            try talking.writeInbound(ByteBuffer(string: "\u{1B}PI"))  // bytes, not yet a frame: still activity
        }
        #expect(quiet.isActive)
        loop.advanceTime(by: .seconds(2))  // 9 s after the start: past the timeout, within one interval
        #expect(!quiet.isActive)
        #expect(talking.isActive)
        #expect(stats.snapshot.idleTimeouts == 1)
        #expect(sweep.loop(for: loop)?.count == 1)  // the closed connection left the sweep
        loop.advanceTime(by: .seconds(9))
        #expect(!talking.isActive)
        #expect(stats.snapshot.idleTimeouts == 2)
        #expect(sweep.loop(for: loop)?.count == 0)
        sweep.stop()
        loop.run()
    }

    @Test func aConnectionClosedByItsPeerLeavesTheSweepAndItsSlotIsReused() throws {
        let loop = EmbeddedEventLoop()
        let sweep = IdleSweep(group: loop, timeout: .seconds(60))
        let stats = AgentStats()
        let first = try connection(sweep, loop: loop, stats: stats)
        _ = try first.close().wait()
        #expect(sweep.loop(for: loop)?.count == 0)
        let second = try connection(sweep, loop: loop, stats: stats)
        #expect(sweep.loop(for: loop)?.count == 1)
        loop.advanceTime(by: .seconds(61))
        #expect(!second.isActive)
        #expect(stats.snapshot.idleTimeouts == 1)  // only the connection that was still open timed out
        sweep.stop()
        loop.run()
    }

    @Test func intervalsStayBetweenTenMillisecondsAndOneSecond() {
        #expect(IdleSweep.interval(for: .milliseconds(20)) == .milliseconds(10))
        #expect(IdleSweep.interval(for: .milliseconds(400)) == .milliseconds(50))
        #expect(IdleSweep.interval(for: .seconds(3600)) == .seconds(1))
    }

    @Test func aSourceIsItsAddressWhateverTheFamilySpellingOrPort() throws {
        let v4 = ConnectionLimiter.Source(try SocketAddress(ipAddress: "10.1.2.3", port: 40000))
        #expect(v4 == ConnectionLimiter.Source(try SocketAddress(ipAddress: "10.1.2.3", port: 50000)))
        #expect(v4 == ConnectionLimiter.Source(try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 1)))
        #expect(v4 != ConnectionLimiter.Source(try SocketAddress(ipAddress: "10.1.2.4", port: 40000)))
        #expect(v4 != ConnectionLimiter.Source(try SocketAddress(ipAddress: "3.2.1.10", port: 40000)))
        let v6 = ConnectionLimiter.Source(try SocketAddress(ipAddress: "2001:db8::1", port: 1))
        #expect(v6 != ConnectionLimiter.Source(try SocketAddress(ipAddress: "2001:db8::2", port: 1)))
        #expect(v6 != ConnectionLimiter.Source(try SocketAddress(ipAddress: "2001:db9::1", port: 1)))
        let limiter = ConnectionLimiter(maxTotal: 10, maxPerSource: 1)
        #expect(limiter.acquire(v4))
        #expect(!limiter.acquire(ConnectionLimiter.Source(try SocketAddress(ipAddress: "::ffff:10.1.2.3", port: 9))))
        #expect(limiter.acquire(v6))
        limiter.release(v4)
        #expect(limiter.acquire(v4))
    }
}
