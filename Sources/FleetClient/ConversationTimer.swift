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
        guard let next else {
            scheduled = nil
            return
        }
        let delay = max(ContinuousClock.now.duration(to: next), .zero)
        scheduled = loop.assumeIsolated().scheduleTask(in: TimeAmount(delay), fire)
    }

    /// The timer went off: the next ``rearm(for:on:_:)`` sets it again whatever the deadline.
    mutating func fired() { deadline = nil }

    mutating func cancel() {
        scheduled?.cancel()
        scheduled = nil
        deadline = nil
    }
}
