/// The protocol state of one device conversation, free of I/O so it can be tested as a plain value.
///
/// Commands are pipelined (all written at once) when the reply framing delimits itself; when replies end only
/// at close or silence (`raw`), each command is written after the previous reply completed. A command the device
/// answers with nothing (``DevicePreset/ReplyRule``: HP PJL's `@PJL SET`) is written with the next one that gets
/// a reply, and no reply is waited for it.
struct ExchangeStateMachine {
    enum State: Equatable {
        case connecting
        /// Waiting for the reply to command `next`; commands `..<written` have been written.
        case exchanging(next: Int, written: Int)
        case finished
    }

    enum Action: Equatable {
        /// Write commands in `range` as one buffer, then half-close if asked, then wait for the next reply.
        case write(Range<Int>, halfClose: Bool)
        /// Write commands in `range` as one buffer (half-close if asked): none of them gets a reply, and every
        /// reply has arrived, so the conversation is complete once they are written.
        case writeAndComplete(Range<Int>, halfClose: Bool)
        /// Keep waiting for the next reply (re-arm its timer).
        case awaitNextReply
        /// Every reply arrived.
        case complete
        /// Nothing to do (the conversation already ended).
        case none
    }

    private(set) var state = State.connecting
    /// Per command, whether the device answers it.
    let expectsReply: [Bool]
    let isPipelined: Bool
    let halfCloseAfterLast: Bool

    var commandCount: Int { expectsReply.count }

    init(expectsReply: [Bool], isPipelined: Bool, halfCloseAfterLast: Bool) {
        precondition(!expectsReply.isEmpty, "a conversation has at least one command")
        self.expectsReply = expectsReply
        self.isPipelined = isPipelined
        self.halfCloseAfterLast = halfCloseAfterLast
    }

    /// Every one of `commandCount` commands gets a reply.
    init(commandCount: Int, isPipelined: Bool, halfCloseAfterLast: Bool) {
        self.init(
            expectsReply: Array(repeating: true, count: commandCount), isPipelined: isPipelined,
            halfCloseAfterLast: halfCloseAfterLast)
    }

    /// The connection is up: write the first batch.
    mutating func connected() -> Action {
        guard state == .connecting else { return .none }
        return write(from: 0)
    }

    /// A complete reply arrived. Returns the index it answers (or `nil` when unexpected) and what to do next.
    /// With `stop`, the conversation ends here: commands not yet written are never sent.
    mutating func replyReceived(stop: Bool = false) -> (index: Int?, action: Action) {
        guard case .exchanging(let next, let written) = state else { return (nil, .none) }
        if stop {
            state = .finished
            return (next, .complete)
        }
        guard let following = firstAnswered(from: next + 1) else {
            state = .finished
            // Commands without a reply may still be unwritten (one at a time): they go now, and that is all.
            guard written < commandCount else { return (next, .complete) }
            return (next, .writeAndComplete(written..<commandCount, halfClose: halfCloseAfterLast))
        }
        if following < written {
            state = .exchanging(next: following, written: written)
            return (next, .awaitNextReply)
        }
        return (next, write(from: written))
    }

    /// Writes from command `start` up to the next one that gets a reply (all of them when pipelined).
    private mutating func write(from start: Int) -> Action {
        let awaited = firstAnswered(from: start)
        let end = isPipelined ? commandCount : awaited.map { $0 + 1 } ?? commandCount
        let halfClose = halfCloseAfterLast && end == commandCount
        guard let awaited else {
            state = .finished
            return .writeAndComplete(start..<end, halfClose: halfClose)
        }
        state = .exchanging(next: awaited, written: end)
        return .write(start..<end, halfClose: halfClose)
    }

    private func firstAnswered(from start: Int) -> Int? {
        var index = start
        while index < commandCount {
            if expectsReply[index] { return index }
            index += 1
        }
        return nil
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
