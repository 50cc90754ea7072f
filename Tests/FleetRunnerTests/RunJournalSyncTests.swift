import Foundation
import Synchronization
import Testing

@testable import FleetRunner

/// The journal's flush to stable storage runs on a thread of its own: a disk slow to take it holds up no writer
/// (a runner thread that waited for it left devices' replies unread until their timeouts passed).
@Suite struct RunJournalSyncTests {
    @Test func aSlowFlushHoldsUpNoWriter() async throws {
        // On a thread of its own: the waits below must not hold up one of the test runner's few threads.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread.detachNewThread { continuation.resume(with: Result { try Self.slowFlush() }) }
        }
    }

    private static func slowFlush() throws {
        let path = temporaryJournalPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let flushes = Mutex(0)
        let header = RunJournal.Header(id: "slow", started: 0, arguments: [], commands: ["PING"], devices: 200)
        let journal = try RunJournal.create(path: path, header: header, syncInterval: .milliseconds(5)) { _ in
            let first = flushes.withLock { count in
                count += 1
                return count == 1
            }
            if first {  // the disk takes its time with the first flush
                entered.signal()
                release.wait()
            }
        }
        // The writes on a thread of their own: a writer stuck behind the flush fails the test instead of hanging it.
        let wrote = DispatchSemaphore(value: 0)
        let problems = Mutex<[String]>([])
        Thread.detachNewThread {
            do {
                try journal.intent("dev0")
                if entered.wait(timeout: .now() + 10) == .timedOut {
                    problems.withLock { $0.append("the first flush never began") }
                }
                for index in 1..<200 {
                    try journal.intent("dev\(index)")
                    // Pacing, so that flushes fall due while the writes go on.
                    if index.isMultiple(of: 20) { Thread.sleep(forTimeInterval: 0.01) }  // ok-sleep: pacing
                }
            } catch {
                problems.withLock { $0.append("\(error)") }
            }
            wrote.signal()
        }
        let finished = wrote.wait(timeout: .now() + 20)
        release.signal()
        #expect(finished == .success)
        #expect(problems.withLock { $0 } == [])
        // What was written meanwhile gets a flush of its own once the slow one is over.
        let deadline = ContinuousClock.now + .seconds(10)
        while flushes.withLock({ $0 }) < 2, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)  // ok-sleep: a poll bounded by the deadline
        }
        #expect(flushes.withLock { $0 } >= 2)
        journal.sync()
        #expect(try RunJournal.read(path: path).intents.count == 200)
    }
}
