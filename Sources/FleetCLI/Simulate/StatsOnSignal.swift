import FleetSimulator
import ServiceLifecycle
import UnixSignals

/// Writes the fleet's counters to a file on every SIGUSR1.
struct StatsOnSignal: Service {
    let fleet: SimulatedFleet
    let path: String
    /// A supervised worker says so on stdout (``WorkerReport/stats``) once the file is written.
    var reports = false

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigusr1)
        for await _ in signals.cancelOnGracefulShutdown() {
            Simulate.write(fleet.stats().json(), to: path)
            if reports { Console.out(WorkerReport.stats) }
        }
    }
}
