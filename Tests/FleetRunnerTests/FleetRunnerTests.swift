import FleetClient
import FleetInventory
import FleetRunner
import FleetSimulator
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
private let blockCounter = NSLock()
nonisolated(unsafe) private var nextBlock = 0

/// A fresh /24 of 127/8 for one fleet (127.(250 - n).x.0), apart from the simulator tests' blocks.
func makeLayout(_ count: Int) throws -> FleetLayout {
    blockCounter.lock()
    nextBlock += 1
    let serial = UInt32(nextBlock)
    blockCounter.unlock()
    let pid = UInt32(ProcessInfo.processInfo.processIdentifier)
    let network: UInt32 = (127 << 24) | ((20 + serial % 30) << 16) | (((pid &* 7) &+ serial) % 256) << 8
    return try FleetLayout(count: count, addressing: .addresses(network: network, prefix: 24, port: 19200))
}

func targets(_ layout: FleetLayout) -> [RunTarget] {
    (1...layout.count).map { number in
        let (host, port) = layout.endpoint(number)
        return RunTarget(name: layout.name(number), host: host, port: port)
    }
}

func bytes(_ texts: String...) -> [[UInt8]] { texts.map { Array($0.utf8) } }

/// A fresh journal path in the temporary folder (the caller removes it).
func temporaryJournalPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("journal-\(UUID()).jsonl").path
}

/// A new journal at `path` for a run of `commands` over `devices` devices.
func makeJournal(_ path: String, id: String, commands: [String], devices: Int) throws -> RunJournal {
    try RunJournal.create(
        path: path, header: .init(id: id, started: 0, arguments: [], commands: commands, devices: devices))
}

/// Device 1 well, devices 2-9 one fault each: what both client paths are held against.
let oneDevicePerFault = [
    FaultRule(fault: .refuse, devices: [2...2]),
    FaultRule(fault: .neverReply, devices: [3...3]),
    FaultRule(fault: .resetMidReply, devices: [4...4]),
    FaultRule(fault: .closeBeforeTerminator, devices: [5...5]),
    FaultRule(fault: .oversized(bytes: 1 << 20), devices: [6...6]),
    FaultRule(fault: .missingTerminator, devices: [7...7]),
    FaultRule(fault: .drip(bytes: 2, every: .milliseconds(5)), devices: [8...8]),
    FaultRule(fault: .finIntolerant, devices: [9...9]),
]

/// Long enough that a loaded CI machine running every suite at once answers in time; short enough for the faults
/// that must time out.
let shortTimeouts = DeviceClient.Configuration(
    timeouts: .init(connect: .seconds(3), reply: .seconds(2)), maxReplyBytes: 64 << 10)

@Suite struct FleetRunnerTests {
    @Test func outcomesFollowTheTaxonomy() async throws {
        let layout = try makeLayout(8)
        let profile = SimulatorProfile(faults: [
            FaultRule(fault: .refuse, devices: [2...2]),
            FaultRule(fault: .neverReply, devices: [3...3]),
            FaultRule(fault: .resetMidReply, devices: [4...4]),
            FaultRule(fault: .closeBeforeTerminator, devices: [5...5]),
            FaultRule(fault: .oversized(bytes: 1 << 20), devices: [6...6]),
        ])
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { fleet in
            let runner = FleetRunner(
                configuration: .init(
                    commands: bytes("ID", "PING"), client: shortTimeouts, retryBackoff: .milliseconds(10)))
            let results = await runner.run(targets(layout))
            #expect(
                results.map(\.outcome) == [.ok, .refused, .replyTimeout, .reset, .closedEarly, .tooLarge, .ok, .ok])
            #expect(results[0].replies == ["dev001 #1", "PONG"])
            #expect(results[0].device == "dev001" && results[0].address == layout.address(1))
            // The inventory name first, with the address: the name is what the user looks for.
            #expect(
                results[1].error?.hasPrefix("failed to connect to device dev002 (\(layout.address(2))): ") == true)
            // Refused: nothing can have been received, so it was tried 1 + 2 times; the reset device only once.
            #expect(results[1].attempts == 3)
            #expect(results[3].attempts == 1)
            #expect(fleet.ledger.counters(3).connections == 1)

            let errors = await FleetRunner(configuration: .init(commands: bytes("GET nothing"), client: shortTimeouts))
                .run([targets(layout)[0]])
            #expect(errors.map(\.outcome) == [.errorReply])
            #expect(errors[0].replies == ["ERR no such key"])
        }
    }

    /// The lean socket path and DeviceClient give the same outcome, replies and error text for every fault.
    @Test func leanSocketsAndDeviceClientAgree() async throws {
        let layout = try makeLayout(10)
        let profile = SimulatorProfile(faults: oneDevicePerFault)
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { _ in
            for commands in [bytes("ID", "PING", "BOGUS"), bytes("PING")] {
                var configuration = FleetRunner.Configuration(
                    commands: commands, client: shortTimeouts, retries: 0)
                configuration.usesLeanSockets = true
                let lean = await FleetRunner(configuration: configuration).run(targets(layout))
                configuration.usesLeanSockets = false
                let nio = await FleetRunner(configuration: configuration).run(targets(layout))
                #expect(lean.map(\.outcome) == nio.map(\.outcome))
                #expect(lean.map(\.replies) == nio.map(\.replies))
                #expect(lean.map(\.error) == nio.map(\.error))
                #expect(lean[0].outcome == .ok || lean[0].outcome == .errorReply)
            }
        }
    }

    /// A large run shares its conversations among several epoll threads: every device is reached once, with the
    /// same outcome, replies and error as on one thread, and journaled (intent and outcome) once.
    @Test func severalLeanThreadsAgreeWithOne() async throws {
        let layout = try makeLayout(200)
        let profile = SimulatorProfile(faults: oneDevicePerFault)
        let path = temporaryJournalPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { fleet in
            var configuration = FleetRunner.Configuration(
                commands: bytes("ID", "PING"), client: shortTimeouts, retries: 0)
            configuration.leanThreads = 1
            let one = await FleetRunner(configuration: configuration).run(targets(layout))
            let sentByOne = (0..<layout.count).map { fleet.ledger.counters($0).received }
            configuration.leanThreads = 3
            let journal = try makeJournal(path, id: "threads", commands: ["ID", "PING"], devices: layout.count)
            let three = await FleetRunner(configuration: configuration).run(targets(layout), journal: journal)
            journal.sync()
            #expect(three.map(\.outcome) == one.map(\.outcome))
            #expect(three.map(\.replies) == one.map(\.replies))
            #expect(three.map(\.error) == one.map(\.error))
            #expect(three.dropFirst(oneDevicePerFault.count + 1).allSatisfy { $0.outcome == .ok })  // the healthy ones
            let sentByBoth = (0..<layout.count).map { fleet.ledger.counters($0).received }
            #expect(zip(sentByBoth, sentByOne).map { $0 - $1 } == sentByOne)
            let contents = try RunJournal.read(path: path)
            #expect(contents.intents == Set(targets(layout).map(\.name)))
            #expect(contents.outcomes.count == layout.count)
        }
    }

    /// A runner thread held up (here by the result callback; in life a disk slow to take the journal, a stopped
    /// terminal, a loaded machine) must not report as timed out the devices that answered in time meanwhile.
    @Test(arguments: [true, false]) func aHeldUpThreadReportsNoFalseTimeouts(lean: Bool) async throws {
        let layout = try makeLayout(60)
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { _ in
            var configuration = FleetRunner.Configuration(
                commands: bytes("PING"),
                client: .init(
                    timeouts: .init(connect: .milliseconds(1500), reply: .milliseconds(1500)), maxReplyBytes: 4096),
                retries: 0)
            configuration.leanThreads = 1
            configuration.usesLeanSockets = lean
            // The runner's own loop: the simulated devices' loops must not be the ones held up.
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let held = Mutex(false)
            let runner = FleetRunner(configuration: configuration, eventLoopGroup: group)
            let results = await runner.run(targets(layout)) { _, _ in
                let first = held.withLock { held in
                    defer { held = true }
                    return !held
                }
                // Held up for more than two timeouts (long enough that the suite's load beside it cannot make a
                // real timeout out of a device slow to answer).
                if first { Thread.sleep(forTimeInterval: 4) }  // ok-sleep: the held-up thread under test
            }
            try await group.shutdownGracefully()
            #expect(results.compactMap(\.error).prefix(3) == [])  // the first few, if any
            #expect(results.allSatisfy { $0.outcome == .ok })
        }
    }

    /// NIO runs the timers that fell due while its loop was held up before it reads the sockets again: replies that
    /// came in time meanwhile must not be reported as timeouts (a timer that goes off late looks again after a read).
    @Test func aHeldUpEventLoopReportsNoFalseTimeouts() async throws {
        let layout = try makeLayout(20)
        let profile = SimulatorProfile(faults: [
            FaultRule(fault: .latency(.fixed(.seconds(1))), devices: [1...20])
        ])
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { _ in
            var configuration = FleetRunner.Configuration(
                commands: bytes("PING"),
                client: .init(
                    timeouts: .init(connect: .milliseconds(1500), reply: .milliseconds(1500)), maxReplyBytes: 4096),
                retries: 0)
            configuration.usesLeanSockets = false
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            // Held up once the commands are out (300 ms in), until the replies have come (1 s in) and every timeout
            // has passed.
            let holdUp: @Sendable () -> Void = { Thread.sleep(forTimeInterval: 4) }  // ok-sleep: the loop held up
            group.next().scheduleTask(in: .milliseconds(300), holdUp)
            let results = await FleetRunner(configuration: configuration, eventLoopGroup: group).run(targets(layout))
            try await group.shutdownGracefully()
            #expect(results.compactMap(\.error).prefix(3) == [])  // the first few, if any
            #expect(results.allSatisfy { $0.outcome == .ok })
        }
    }

    @Test func idempotentCommandsAreRetriedAfterAnyFailure() async throws {
        let layout = try makeLayout(1)
        let profile = SimulatorProfile(faults: [FaultRule(fault: .resetMidReply, devices: [1...1])])
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { fleet in
            let runner = FleetRunner(
                configuration: .init(
                    commands: bytes("PING"), client: shortTimeouts, retries: 2, retryBackoff: .milliseconds(10),
                    isIdempotent: true))
            let results = await runner.run(targets(layout))
            #expect(results[0].outcome == .reset)
            #expect(results[0].attempts == 3)
            #expect(fleet.ledger.counters(0).received == 3)
        }
    }

    @Test func stopOnErrorSendsNothingAfterTheFirstErrorReply() async throws {
        let layout = try makeLayout(3)
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { fleet in
            let runner = FleetRunner(
                configuration: .init(commands: bytes("BOGUS", "INCR n"), client: shortTimeouts, stopOnError: true))
            let results = await runner.run(targets(layout))
            #expect(results.map(\.outcome) == [.errorReply, .errorReply, .errorReply])
            #expect(results[0].replies == ["ERR unknown command"])
            #expect((0..<3).map { fleet.ledger.counters($0).received } == [1, 1, 1])
        }
    }

    @Test func oneConnectionAtATimePerAddress() async throws {
        let layout = try makeLayout(1)
        let profile = SimulatorProfile(faults: [FaultRule(fault: .singleSession, devices: [1...1])])
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { _ in
            let (host, port) = layout.endpoint(1)
            // Two inventory names for one device: never two connections to it at once.
            let twice = (1...6).map { RunTarget(name: "alias\($0)", host: host, port: port) }
            let results = await FleetRunner(configuration: .init(commands: bytes("PING"), client: shortTimeouts)).run(
                twice)
            #expect(results.allSatisfy { $0.outcome == .ok })
        }
    }

    /// The journal's folders are made as `mkdir -p` makes them; a failure is one line in the system's words.
    @Test func journalMakesItsFoldersAndSaysWhyItCannot() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("journal-dirs-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: base) }
        let header = RunJournal.Header(id: "t", started: 0, arguments: [], commands: ["PING"], devices: 0)
        _ = try RunJournal.create(path: base + "/a/b/run.jsonl", header: header)
        #expect(FileManager.default.fileExists(atPath: base + "/a/b/run.jsonl"))
        #expect(FileManager.default.createFile(atPath: base + "/file", contents: Data()))
        #expect {
            _ = try RunJournal.create(path: base + "/file/c/run.jsonl", header: header)
        } throws: { error in
            "\(error)" == "cannot create journal directory \(base)/file/c: Not a directory"
        }
    }

    @Test func journalRecordsIntentBeforeOutcomeAndResumeNeverResends() async throws {
        let layout = try makeLayout(6)
        let path = temporaryJournalPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let header = RunJournal.Header(
            id: "t1", started: 0, arguments: ["-i", "x", "PING"], commands: ["PING"], devices: 6)
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { fleet in
            let journal = try RunJournal.create(path: path, header: header)
            let all = targets(layout)
            _ = await FleetRunner(configuration: .init(commands: bytes("INCR n"), client: shortTimeouts)).run(
                Array(all[0..<3]), journal: journal)
            // Device 4 was about to be sent the command when the process died: intent, no outcome, and a torn line.
            try journal.intent(all[3].name)
            journal.sync()
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("{\"type\":\"outcome\",\"dev".utf8))
            try handle.close()

            let (reopened, contents) = try RunJournal.reopen(path: path)
            #expect(contents.tornTail)
            #expect(contents.header == header)
            #expect(contents.intents == Set(all[0..<4].map(\.name)))
            #expect(Set(contents.outcomes.keys) == Set(all[0..<3].map(\.name)))
            let plan = ResumePlan(targets: all, journal: contents, isIdempotent: false)
            #expect(plan.toRun.map(\.name) == all[4...].map(\.name))
            #expect(plan.carried.map(\.outcome) == [.ok, .ok, .ok, .unknown])
            #expect(plan.carried.allSatisfy { $0.resumed == true })
            _ = await FleetRunner(configuration: .init(commands: bytes("INCR n"), client: shortTimeouts)).run(
                plan.toRun, journal: reopened)
            reopened.sync()
            let final = try RunJournal.read(path: path)
            #expect(!final.tornTail)
            #expect(final.outcomes.count == 5)
            // Ground truth: devices 1–3 and 5–6 received the command once; device 4 never (it was "unknown").
            #expect((0..<6).map { fleet.ledger.counters($0).received } == [1, 1, 1, 0, 1, 1])
            // With --idempotent the interrupted device is sent the command.
            #expect(ResumePlan(targets: all, journal: final, isIdempotent: true).toRun.map(\.name) == [all[3].name])
        }
    }

    /// The lean path writes the intents of the devices it starts together in one write, from its own thread; when
    /// that write fails, none of them may be sent anything (the same as the DeviceClient path, which writes each
    /// device's intent itself). The journal's descriptor is swapped for a read-only one, so every write fails.
    @Test func noDeviceIsSentAnythingWhenItsIntentCannotBeWritten() async throws {
        let layout = try makeLayout(6)
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { fleet in
            for lean in [true, false] {
                let path = temporaryJournalPath()
                defer { try? FileManager.default.removeItem(atPath: path) }
                let journal = try makeJournal(path, id: "t3", commands: ["INCR n"], devices: 6)
                let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap {
                    name -> Int32? in
                    let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")
                    return target == path ? Int32(name) : nil
                }
                try #require(descriptors.count == 1)
                let readOnly = open(path, O_RDONLY)
                try #require(readOnly >= 0)
                #expect(dup2(readOnly, descriptors[0]) == descriptors[0])
                close(readOnly)
                var configuration = FleetRunner.Configuration(
                    commands: bytes("INCR n"), client: shortTimeouts, forks: 3, retries: 0)
                configuration.usesLeanSockets = lean
                let results = await FleetRunner(configuration: configuration).run(targets(layout), journal: journal)
                #expect(results.map(\.outcome) == Array(repeating: .skipped, count: 6))
                #expect(results.allSatisfy { $0.error?.hasPrefix("not sent to device ") == true })
            }
            #expect((0..<6).map { fleet.ledger.counters($0).received } == Array(repeating: 0, count: 6))
        }
    }

    /// Each result is rendered once: `onResult` gets the journal's line (the same as ``DeviceResult/json``, which
    /// `--format jsonl` prints), and `nil` without a journal; the journal holds that line for each device.
    @Test func resultsReachTheCallerWithTheJournalsRendering() async throws {
        let layout = try makeLayout(4)
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { _ in
            for lean in [true, false] {
                let path = temporaryJournalPath()
                defer { try? FileManager.default.removeItem(atPath: path) }
                let journal = try makeJournal(path, id: "t4", commands: ["PING"], devices: 4)
                var configuration = FleetRunner.Configuration(
                    commands: bytes("PING"), client: shortTimeouts, forks: 2, retries: 0)
                configuration.usesLeanSockets = lean
                let runner = FleetRunner(configuration: configuration)
                let seen = Mutex<[(DeviceResult, String?)]>([])
                _ = await runner.run(targets(layout), journal: journal, keepingResults: false) { _, result, json, _ in
                    seen.withLock { $0.append((result, json)) }
                }
                let withJournal = seen.withLock { $0 }
                #expect(withJournal.count == 4)
                #expect(withJournal.allSatisfy { $0.0.outcome == .ok && $0.1 == $0.0.json })
                journal.sync()
                let recorded = try String(contentsOfFile: path, encoding: .utf8)
                for (result, _) in withJournal { #expect(recorded.contains(",\"result\":" + result.json + ",")) }

                seen.withLock { $0.removeAll() }
                _ = await runner.run(targets(layout), journal: nil, keepingResults: false) { _, result, json, _ in
                    seen.withLock { $0.append((result, json)) }
                }
                #expect(seen.withLock { $0.count == 4 && $0.allSatisfy { $0.1 == nil } })
            }
        }
    }

    /// An outcome waits for the next write (normally the next device's intent, in the same write) and at most a
    /// moment: a run whose last devices finish, or a slow tail, still has every outcome on disk without a sync.
    @Test func outcomesGoOutWithTheNextIntentOrAfterAMoment() async throws {
        let path = temporaryJournalPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let journal = try makeJournal(path, id: "t2", commands: ["PING"], devices: 3)
        try journal.intents(["a", "b"])
        try journal.outcome(DeviceResult(device: "a", address: "h:1", outcome: .ok))
        try journal.intent("c")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines[3].contains(#""device":"a","result""#))  // a's outcome, before c's intent
        #expect(lines[4].contains(#""device":"c","time""#))
        try journal.outcome(DeviceResult(device: "b", address: "h:2", outcome: .ok))
        // No sync and no further write: the journal's own timer must write b's outcome, within a moment.
        let deadline = ContinuousClock.now + .seconds(5)
        var contents = try RunJournal.read(path: path)
        while contents.outcomes["b"] == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))  // ok-sleep: polling with a deadline
            contents = try RunJournal.read(path: path)
        }
        #expect(Set(contents.outcomes.keys) == ["a", "b"])
        #expect(contents.intents == ["a", "b", "c"])
    }

    @Test func cancellationSkipsDevicesNotStarted() async throws {
        let layout = try makeLayout(50)
        // 600 ms per device, 5 at a time: 6 s for all 50, so a loaded machine that is slow to cancel (the whole
        // suite running beside it) still leaves more than 20 never started.
        let profile = SimulatorProfile(faults: [FaultRule(fault: .latency(.fixed(.milliseconds(600))), rate: 1)])
        try await SimulatedFleet.withRunning(.init(layout: layout, profile: profile), logger: quiet) { _ in
            let runner = FleetRunner(configuration: .init(commands: bytes("PING"), client: shortTimeouts, forks: 5))
            // Cancel once ten devices have answered.
            let (answered, sink) = AsyncStream.makeStream(of: Void.self)
            let task = Task { await runner.run(targets(layout)) { _, _ in sink.yield() } }
            var count = 0
            for await _ in answered {
                count += 1
                if count == 10 { break }
            }
            task.cancel()
            let results = await task.value
            let skipped = results.filter { $0.outcome == .skipped }.count
            #expect(skipped > 20)
            #expect(results.filter { $0.outcome == .ok }.count + skipped == 50)
        }
    }
}

@Suite struct DeviceResultJSONTests {
    @Test func handWrittenJSONDecodesToTheSameResult() throws {
        let results = [
            DeviceResult(
                device: "dev\"1", address: "127.0.0.1:9100", outcome: .ok, replies: ["a\\b", "tab\there\u{1}"],
                timings: .init(connectMilliseconds: 0.25, totalMilliseconds: 3.5), attempts: 1),
            DeviceResult(
                device: "dev2", address: "[::1]:9100", outcome: .unknown, error: "may have received it",
                attempts: 0, resumed: true),
            DeviceResult(
                device: "dev3", address: "10.0.0.7:7000", outcome: .errorReply, replies: ["ERR 12"],
                timings: .init(connectMilliseconds: 1e-3, totalMilliseconds: 123_456.789), attempts: 12,
                resumed: false),
        ]
        for result in results {
            let decoded = try JSONDecoder().decode(DeviceResult.self, from: Data(result.json.utf8))
            #expect(decoded == result)
        }
        #expect(
            results[1].json
                == #"{"address":"[::1]:9100","attempts":0,"device":"dev2","error":"may have received it","outcome":"unknown","replies":[],"resumed":true,"timings":{"total_ms":0.0}}"#
        )
    }
}
