import FleetSimulator
import Foundation
import Testing

/// The supervisor's own failures: a worker it cannot start, one that stops while starting.
@Suite struct SimulatorSupervisorTests {
    @Test func aWorkerThatCannotBeStartedIsReportedInTheSystemsWords() async {
        let supervisor = SimulatorSupervisor(
            executable: "/nonexistent/fleetcmd-\(getpid())", arguments: [["simulate-worker"], ["simulate-worker"]])
        let (events, sink) = AsyncStream.makeStream(of: SimulatorSupervisor.Event.self)
        var readyCalls = 0
        do {
            try await supervisor.run(events: events, sink: sink, onReady: { readyCalls += 1 }, onStats: {})
            Issue.record("a supervisor without workers reported success")
        } catch {
            #expect(error == .cannotStart("no such file or directory"))
            #expect(error.description == "cannot start a simulator process: no such file or directory")
        }
        #expect(readyCalls == 0)
    }

    @Test func aWorkerThatStopsWhileStartingEndsTheRunWithItsStatus() async {
        // The first worker never says `ready`; the second exits at once with status 3.
        let supervisor = SimulatorSupervisor(
            executable: "/bin/sh", arguments: [["-c", "exec sleep 30"], ["-c", "exit 3"]])
        let (events, sink) = AsyncStream.makeStream(of: SimulatorSupervisor.Event.self)
        let began = ContinuousClock.now
        do {
            try await supervisor.run(events: events, sink: sink, onReady: {}, onStats: {})
            Issue.record("a worker's early exit went unreported")
        } catch {
            #expect(error == .stoppedWhileStarting(worker: 1, status: 3))
        }
        // The sleeping worker was stopped, not waited for.
        #expect(ContinuousClock.now - began < .seconds(20))
    }
}
