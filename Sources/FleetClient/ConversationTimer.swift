import NIOCore

/// The one timer a NIO shell keeps for its ``DeviceConversation``: always set for the conversation's
/// ``DeviceConversation/nextDeadline``, moved only when that changes.
struct ConversationTimer {
    private var scheduled: Scheduled<Void>?
    private var deadline: DeviceConversation.Instant?

    /// Sets the timer for `next` (nothing when it already is), calling `fire` on `loop` then.
    mutating func rearm(for next: DeviceConversation.Instant?, on loop: any EventLoop, _ fire: @escaping () -> Void) {
        guard next != deadline else { return }
        scheduled?.cancel()
        deadline = next
        lookedAgain = false
        guard let next else {
            scheduled = nil
            return
        }
        let delay = max(ContinuousClock.now.duration(to: next), .zero)
        scheduled = loop.assumeIsolated().scheduleTask(in: TimeAmount(delay), fire)
    }

    /// Whether the deadline being looked at again (``fired(on:_:)``) was looked at once already.
    private var lookedAgain = false

    /// How late a timer may go off before its loop counts as having been held up.
    static let lateness: Duration = .milliseconds(20)

    /// The timer went off. `true`: the deadline has passed, act on it; the next ``rearm(for:on:_:)`` sets the timer
    /// again whatever the deadline.
    ///
    /// `false` when the timer went off late, the first time for this deadline: the loop was held up (a slow disk
    /// under the journal, a stopped terminal, a loaded machine) and may not yet have read a reply or a connection
    /// that came in time meanwhile, since NIO runs the timers that are due before it looks at the sockets again. The
    /// timer is set again for `lateness` from now, so the loop reads first, and `fire` is called then.
    mutating func fired(on loop: any EventLoop, _ fire: @escaping () -> Void) -> Bool {
        guard let due = deadline, !lookedAgain, due.duration(to: .now) > Self.lateness else {
            deadline = nil
            lookedAgain = false
            return true
        }
        lookedAgain = true
        scheduled = loop.assumeIsolated().scheduleTask(in: TimeAmount(Self.lateness), fire)
        return false
    }

    mutating func cancel() {
        scheduled?.cancel()
        scheduled = nil
        deadline = nil
        lookedAgain = false
    }
}
