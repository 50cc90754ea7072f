import FleetSimulator
import ServiceLifecycle
import UnixSignals

/// Writes the fleet's counters to a file on every SIGUSR1.
struct StatsOnSignal: Service {
    let fleet: SimulatedFleet
    let path: String
    /// A supervised worker says so on stdout (``WorkerReport/stats``) once the file is written.
    var reports = false
    /// SIGUSR1, trapped by the caller before the fleet starts (so a signal right after "ready" is never fatal).
    let signals: UnixSignalsSequence

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            Simulate.write(fleet.stats().json(), to: path)
            if reports { Console.out(WorkerReport.stats) }
        }
    }
}
