import NIOCore

/// The one timer a NIO shell keeps for its ``DeviceConversation``: always set for the conversation's
/// ``DeviceConversation/nextDeadline``, moved only when that changes.
struct ConversationTimer {
    private var scheduled: Scheduled<Void>?
    private var deadline: DeviceConversation.Instant?
    /// While the deadline is being looked at again (``fired(on:_:)``): when the timer should have gone off this
    /// time, and how many times it was looked at again.
    private var lookDue: DeviceConversation.Instant?
    private var looks = 0

    /// How late a timer may go off before its loop counts as having been held up.
    static let lateness: Duration = .milliseconds(20)
    /// At most this many looks again: a loop that stays behind still reports its timeouts.
    static let maxLooks = 3

    /// Sets the timer for `next` (nothing when it already is), calling `fire` on `loop` then.
    mutating func rearm(for next: DeviceConversation.Instant?, on loop: any EventLoop, _ fire: @escaping () -> Void) {
        guard next != deadline else { return }
        scheduled?.cancel()
        deadline = next
        lookDue = nil
        looks = 0
        guard let next else {
            scheduled = nil
            return
        }
        let delay = max(ContinuousClock.now.duration(to: next), .zero)
        scheduled = loop.assumeIsolated().scheduleTask(in: TimeAmount(delay), fire)
    }

    /// The timer went off. `true`: the deadline has passed, act on it; the next ``rearm(for:on:_:)`` sets the timer
    /// again whatever the deadline.
    ///
    /// `false` when the timer went off late: the loop was held up (a slow disk under the journal, a stopped
    /// terminal, a loaded machine) and may not yet have read a reply or a connection that came in time meanwhile,
    /// since NIO runs the timers that are due before it looks at the sockets again. The timer is set again for
    /// `lateness` from now, so that the loop reads first, and `fire` is called then (again while the loop is still
    /// behind, at most ``maxLooks`` times).
    mutating func fired(on loop: any EventLoop, _ fire: @escaping () -> Void) -> Bool {
        let now = DeviceConversation.Instant.now
        guard let due = lookDue ?? deadline, looks < Self.maxLooks, due.duration(to: now) > Self.lateness else {
            deadline = nil
            lookDue = nil
            looks = 0
            return true
        }
        looks += 1
        lookDue = now + Self.lateness
        scheduled = loop.assumeIsolated().scheduleTask(in: TimeAmount(Self.lateness), fire)
        return false
    }

    mutating func cancel() {
        scheduled?.cancel()
        scheduled = nil
        deadline = nil
        lookDue = nil
        looks = 0
    }
}
