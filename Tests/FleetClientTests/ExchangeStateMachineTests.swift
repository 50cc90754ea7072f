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

@Suite struct CommandsWithoutRepliesTests {
    @Test func pipelinedSilentCommandsAreWrittenAndSkippedWhenRepliesAreCounted() {
        // SET (no reply), INFO, SET, ECHO
        var machine = ExchangeStateMachine(
            expectsReply: [false, true, false, true], isPipelined: true, halfCloseAfterLast: false)
        #expect(machine.connected() == .write(0..<4, halfClose: false))
        #expect(machine.awaitedReply == 1)
        let first = machine.replyReceived()
        #expect(first.index == 1)
        #expect(first.action == .awaitNextReply)
        let second = machine.replyReceived()
        #expect(second.index == 3)
        #expect(second.action == .complete)
    }

    @Test func sequentialWritesSilentCommandsWithTheNextAnsweredOneAndTheTailAtTheEnd() {
        var machine = ExchangeStateMachine(
            expectsReply: [false, true, false, false], isPipelined: false, halfCloseAfterLast: true)
        #expect(machine.connected() == .write(0..<2, halfClose: false))
        let reply = machine.replyReceived()
        #expect(reply.index == 1)
        #expect(reply.action == .writeAndComplete(2..<4, halfClose: true))
        #expect(machine.isFinished)
    }

    @Test func onlySilentCommandsCompleteOnceWritten() {
        var machine = ExchangeStateMachine(expectsReply: [false, false], isPipelined: true, halfCloseAfterLast: false)
        #expect(machine.connected() == .writeAndComplete(0..<2, halfClose: false))
        #expect(machine.isFinished)
        #expect(machine.replyReceived().index == nil)
    }

    @Test func aStopRuleEndsBeforeSilentCommandsNotYetWritten() {
        var machine = ExchangeStateMachine(expectsReply: [true, false], isPipelined: false, halfCloseAfterLast: false)
        #expect(machine.connected() == .write(0..<1, halfClose: false))
        #expect(machine.replyReceived(stop: true).action == .complete)
    }
}
