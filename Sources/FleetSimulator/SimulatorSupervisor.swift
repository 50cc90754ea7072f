import FleetFraming
import FleetSystemText
import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// Serves a big simulated fleet from several worker processes and merges what they report, driven by events
/// only: each worker's stdout is a pipe on which it says `ready` once its devices listen and `stats` once it has
/// written its counters (on SIGUSR1); its exit is its termination handler. Nothing polls a file or sleeps.
///
/// The worker side of the protocol is ``WorkerReport``.
public struct SimulatorSupervisor: Sendable {
    /// Everything the supervisor reacts to, in one stream.
    public enum Event: Sendable {
        /// Worker `index` said `ready`.
        case ready(Int)
        /// Worker `index` wrote its counters.
        case statsWritten(Int)
        /// Worker `index` exited with `status`.
        case exited(Int, status: Int32)
        /// The operator asked for the counters (SIGUSR1 to the supervisor).
        case statsRequested
        /// Stop every worker and finish (SIGTERM, SIGINT, the run's duration).
        case stop
        /// A wait for the workers' counters ran out of time.
        case statsTimedOut
    }

    /// Why a supervised fleet ended badly.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case cannotStart(String)
        case stoppedWhileStarting(worker: Int, status: Int32)
        case stopped(worker: Int, of: Int, status: Int32)

        public var description: String {
            switch self {
            case .cannotStart(let reason): "cannot start a simulator process: \(reason)"
            case .stoppedWhileStarting(_, let status):
                "a simulator process stopped while starting (exit status \(status))"
            case .stopped(let worker, let count, let status):
                "simulator process \(worker + 1) of \(count) stopped (exit status \(status))"
            }
        }
    }

    /// The program to start (this executable) and each worker's arguments.
    public var executable: String
    public var arguments: [[String]]

    public init(executable: String, arguments: [[String]]) {
        self.executable = executable
        self.arguments = arguments
    }

    /// Starts every worker, calls `onReady` once all are ready, then reacts to `events` (which the caller also feeds:
    /// signals, a duration) until a stop; `onStats` is called whenever fresh counters were asked for and every
    /// worker wrote them (or 10 s passed), and once more after the workers stopped.
    public func run(
        events: AsyncStream<Event>, sink: AsyncStream<Event>.Continuation,
        onReady: () -> Void, onStats: () -> Void
    ) async throws(Failure) {
        var processes: [Worker] = []
        for (index, arguments) in arguments.enumerated() {
            let worker: Worker
            do {
                worker = try Worker.start(executable, arguments: arguments, index: index, events: sink)
            } catch {
                for started in processes { started.signal(SIGKILL) }
                throw .cannotStart(error.reason)
            }
            processes.append(worker)
        }
        var state = State(count: processes.count)
        var failure: Failure?
        var iterator = events.makeAsyncIterator()
        loop: while let event = await iterator.next() {
            switch state.handle(event) {
            case .none:
                break
            case .allReady:
                onReady()
            case .askForStats:
                for process in processes { process.signal(SIGUSR1) }
                let sink = sink
                DispatchQueue.global().asyncAfter(deadline: .now() + 10) { sink.yield(.statsTimedOut) }
            case .statsReady:
                onStats()
            case .stop:
                break loop
            case .fail(let reason):
                failure = reason
                break loop
            }
        }
        // Stop every worker still running and wait for each exit (its termination handler), not for a timer.
        for (index, process) in processes.enumerated() where !state.exited.contains(index) {
            process.signal(SIGTERM)
        }
        while state.exited.count < processes.count, let event = await iterator.next() {
            if case .exited(let index, _) = event { state.exited.insert(index) }
        }
        onStats()
        if let failure { throw failure }
    }

    /// The supervisor's decisions, as a value: what an event means given what happened before.
    struct State {
        enum Action: Equatable { case none, allReady, askForStats, statsReady, stop, fail(Failure) }

        let count: Int
        var ready: Set<Int> = []
        var exited: Set<Int> = []
        /// Workers that have yet to write fresh counters, while they are being asked for.
        var awaitingStats: Set<Int>?

        init(count: Int) { self.count = count }

        mutating func handle(_ event: Event) -> Action {
            switch event {
            case .ready(let index):
                ready.insert(index)
                return ready.count == count ? .allReady : .none
            case .exited(let index, let status):
                exited.insert(index)
                return ready.count < count
                    ? .fail(.stoppedWhileStarting(worker: index, status: status))
                    : .fail(.stopped(worker: index, of: count, status: status))
            case .statsRequested:
                guard ready.count == count, awaitingStats == nil else { return .none }
                awaitingStats = Set(0..<count)
                return .askForStats
            case .statsWritten(let index):
                guard var awaiting = awaitingStats else { return .none }
                awaiting.remove(index)
                awaitingStats = awaiting.isEmpty ? nil : awaiting
                return awaiting.isEmpty ? .statsReady : .none
            case .statsTimedOut:
                guard awaitingStats != nil else { return .none }
                awaitingStats = nil
                return .statsReady
            case .stop:
                return .stop
            }
        }
    }

    /// One worker process: its stdout lines become events on a thread of its own, then its exit.
    private final class Worker: @unchecked Sendable {
        private let child: ChildProcess
        // Guarded by `lock`: a signal is never sent once the worker is reaped (its pid may be someone else's).
        private let lock = NSLock()
        private var reaped = false

        private init(child: ChildProcess) { self.child = child }

        static func start(
            _ executable: String, arguments: [String], index: Int, events: AsyncStream<Event>.Continuation
        ) throws(ChildProcess.StartError) -> Worker {
            let (read, write) = try ChildProcess.makePipe()
            let child: ChildProcess
            do {
                child = try ChildProcess.start(
                    executable, arguments: arguments, output: write, error: STDERR_FILENO)
            } catch {
                Glibc.close(read)
                Glibc.close(write)
                throw error
            }
            Glibc.close(write)
            let worker = Worker(child: child)
            Thread.detachNewThread { worker.report(from: read, index: index, to: events) }
            return worker
        }

        func signal(_ signal: Int32) {
            lock.withLock { if !reaped { child.signal(signal) } }
        }

        /// Its stdout lines as they arrive, until it closes them; then its exit.
        private func report(from descriptor: Int32, index: Int, to events: AsyncStream<Event>.Continuation) {
            var buffer: [UInt8] = []
            ChildProcess.read(descriptor) { chunk in
                buffer += chunk
                while let newline = buffer.firstIndex(of: 0x0A) {
                    switch String(decoding: buffer[..<newline], as: UTF8.self) {
                    case WorkerReport.ready: events.yield(.ready(index))
                    case WorkerReport.stats: events.yield(.statsWritten(index))
                    default: break
                    }
                    buffer.removeSubrange(...newline)
                }
                return true
            }
            Glibc.close(descriptor)
            child.waitUntilEnded()
            let termination = lock.withLock {
                reaped = true
                return child.reap()
            }
            events.yield(.exited(index, status: termination.status))
        }
    }
}

extension SimulatorSupervisor.Failure: Equatable {}

/// The worker's side of the supervisor's protocol: one line on stdout per report.
public enum WorkerReport {
    /// Every device of this worker listens.
    public static let ready = "ready"
    /// This worker wrote its counters to its stats file.
    public static let stats = "stats"
}
