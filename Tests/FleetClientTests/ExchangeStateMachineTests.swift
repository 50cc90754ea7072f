import Testing

@testable import FleetClient

@Suite struct ExchangeStateMachineTests {
    @Test func pipelinedWritesEverythingAtOnceAndCompletesOnTheLastReply() {
        var machine = ExchangeStateMachine(commandCount: 3, isPipelined: true, halfCloseAfterLast: false)
        let first = machine.connected()
        #expect(first == .write(0..<3, halfClose: false))
        let second = machine.replyReceived().action
        let third = machine.replyReceived().action
        #expect(second == .awaitNextReply)
        #expect(third == .awaitNextReply)
        let last = machine.replyReceived()
        #expect(last.index == 2)
        #expect(last.action == .complete)
        let extra = machine.replyReceived()
        #expect(extra.index == nil)
    }

    @Test func sequentialWritesOneCommandPerReplyAndHalfClosesAfterTheLast() {
        var machine = ExchangeStateMachine(commandCount: 2, isPipelined: false, halfCloseAfterLast: true)
        let first = machine.connected()
        let second = machine.replyReceived().action
        let third = machine.replyReceived().action
        #expect(first == .write(0..<1, halfClose: false))
        #expect(second == .write(1..<2, halfClose: true))
        #expect(third == .complete)
    }

    @Test func finishHappensOnce() {
        var machine = ExchangeStateMachine(commandCount: 1, isPipelined: true, halfCloseAfterLast: true)
        let first = machine.connected()
        let finished = machine.finish()
        let again = machine.finish()
        let late = machine.replyReceived().action
        #expect(first == .write(0..<1, halfClose: true))
        #expect(finished)
        #expect(!again)
        #expect(late == .none)
    }
}
