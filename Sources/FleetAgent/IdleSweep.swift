import NIOConcurrencyHelpers
import NIOCore

/// Closes connections that have read nothing for the idle timeout, with one sweep per event loop instead of a
/// timer per connection.
///
/// An `IdleStateHandler` per connection costs about half a kilobyte of every idle connection (the handler, its
/// pipeline slot, a scheduled task with its promise and heap entry); here a connection costs one array slot and
/// two fields of its framing handler, and reading costs a flag store (no clock call). The sweep runs
/// ``interval(for:)`` apart, so a connection closes between one timeout and one timeout plus an interval after
/// its last read (nginx and HAProxy are as coarse with their timer granularity).
///
/// Each ``Loop`` belongs to one event loop and is touched only on it; the table of loops is made once at start.
final class IdleSweep: Sendable {
    private let loops: [ObjectIdentifier: Loop]
    let timeout: TimeAmount

    /// Sweeps every loop of `group` (the loops child channels of a server bootstrap on `group` run on).
    init(group: any EventLoopGroup, timeout: Duration) {
        let timeout = TimeAmount(timeout)
        var loops: [ObjectIdentifier: Loop] = [:]
        for loop in group.makeIterator() {
            loops[ObjectIdentifier(loop)] = Loop(loop: loop, timeout: timeout)
        }
        self.loops = loops
        self.timeout = timeout
    }

    /// The sweep of `loop`, or `nil` for a loop outside the group (the caller then uses a timer of its own).
    func loop(for loop: any EventLoop) -> Loop? { loops[ObjectIdentifier(loop)] }

    func stop() {
        for loop in loops.values { loop.stop() }
    }

    /// A fraction of the timeout, between 10 ms and one second.
    static func interval(for timeout: TimeAmount) -> TimeAmount {
        .nanoseconds(min(max(timeout.nanoseconds / 8, 10_000_000), 1_000_000_000))
    }

    /// One event loop's members. `@unchecked Sendable`: its state is touched only on `loop` (checked in debug).
    final class Loop: @unchecked Sendable {
        let eventLoop: any EventLoop
        private let timeout: TimeAmount
        private var members: [AgentFramingHandler?] = []
        private var vacant: [Int] = []
        private var task: RepeatedTask?
        private var isStopped = false

        init(loop: any EventLoop, timeout: TimeAmount) {
            self.eventLoop = loop
            self.timeout = timeout
        }

        /// Adds a connection's framing handler; returns its slot (for ``leave(_:)``). Starts sweeping on first use.
        func join(_ member: AgentFramingHandler) -> Int {
            eventLoop.preconditionInEventLoop()
            if task == nil, !isStopped {
                let interval = IdleSweep.interval(for: timeout)
                task = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
                    sweep(now: eventLoop.now)
                }
            }
            if let slot = vacant.popLast() {
                members[slot] = member
                return slot
            }
            members.append(member)
            return members.count - 1
        }

        func leave(_ slot: Int) {
            eventLoop.preconditionInEventLoop()
            guard members.indices.contains(slot), members[slot] != nil else { return }
            members[slot] = nil
            vacant.append(slot)
        }

        /// Members that have been quiet for the timeout close (each leaves as its pipeline is torn down).
        func sweep(now: NIODeadline) {
            var expired: [AgentFramingHandler] = []
            for member in members {
                if let member, member.isIdle(now: now, timeout: timeout) { expired.append(member) }
            }
            for member in expired { member.closeIdle() }
        }

        func stop() {
            eventLoop.execute { [self] in
                isStopped = true
                task?.cancel()
                task = nil
            }
        }

        var count: Int { members.count - vacant.count }
    }
}
