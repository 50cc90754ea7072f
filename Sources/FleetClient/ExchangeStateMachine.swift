/// The protocol state of one device conversation, free of I/O so it can be tested as a plain value.
///
/// Commands are pipelined (all written at once) when the reply framing delimits itself; when replies end only
/// at close or silence (`raw`), each command is written after the previous reply completed.
struct ExchangeStateMachine {
    enum State: Equatable {
        case connecting
        /// Waiting for reply `next`; commands `..<written` have been written.
        case exchanging(next: Int, written: Int)
        case finished
    }

    enum Action: Equatable {
        /// Write commands in `range` as one buffer, then half-close if asked, then wait for the next reply.
        case write(Range<Int>, halfClose: Bool)
        /// Keep waiting for the next reply (re-arm its timer).
        case awaitNextReply
        /// Every reply arrived.
        case complete
        /// Nothing to do (the conversation already ended).
        case none
    }

    private(set) var state = State.connecting
    let commandCount: Int
    let isPipelined: Bool
    let halfCloseAfterLast: Bool

    init(commandCount: Int, isPipelined: Bool, halfCloseAfterLast: Bool) {
        precondition(commandCount > 0, "a conversation has at least one command")
        self.commandCount = commandCount
        self.isPipelined = isPipelined
        self.halfCloseAfterLast = halfCloseAfterLast
    }

    /// The connection is up: write the first batch.
    mutating func connected() -> Action {
        guard state == .connecting else { return .none }
        let batch = isPipelined ? 0..<commandCount : 0..<1
        state = .exchanging(next: 0, written: batch.upperBound)
        return .write(batch, halfClose: halfCloseAfterLast && batch.upperBound == commandCount)
    }

    /// A complete reply arrived. Returns the index it answers (or `nil` when unexpected) and what to do next.
    /// With `stop`, the conversation ends here: commands not yet written are never sent.
    mutating func replyReceived(stop: Bool = false) -> (index: Int?, action: Action) {
        guard case .exchanging(let next, let written) = state else { return (nil, .none) }
        let received = next + 1
        if received == commandCount || stop {
            state = .finished
            return (next, .complete)
        }
        if received < written {
            state = .exchanging(next: received, written: written)
            return (next, .awaitNextReply)
        }
        state = .exchanging(next: received, written: received + 1)
        return (next, .write(received..<(received + 1), halfClose: halfCloseAfterLast && received + 1 == commandCount))
    }

    /// The conversation ends (error, timeout, close). Returns `true` if this call ended it.
    mutating func finish() -> Bool {
        guard state != .finished else { return false }
        state = .finished
        return true
    }

    /// The index of the reply being waited for, if any.
    var awaitedReply: Int? {
        if case .exchanging(let next, _) = state { return next }
        return nil
    }

    var isFinished: Bool { state == .finished }
}
