import ArgumentParser
import FleetStore
import Foundation

/// `--store URL` (or `$FLEETCMD_STORE`): a PostgreSQL run store shared by many workers, instead of the journal file.
struct StoreOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "A PostgreSQL run store shared by workers: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE&sslrootcert=FILE] (default: $FLEETCMD_STORE; the password may come from $PGPASSWORD).",
            valueName: "url"))
    var store: String?

    /// The store given, parsed; nil when none (the file journal).
    var location: StoreLocation? {
        get throws {
            let environment = ProcessEnvironment.variables
            guard let text = store ?? environment["FLEETCMD_STORE"].flatMap({ $0.isEmpty ? nil : $0 }) else {
                return nil
            }
            do {
                let location = try StoreLocation(parsing: text, environment: environment)
                if store != nil, location.passwordInURL { Self.warnOnce() }
                return location
            } catch {
                throw ValidationError("--store: \(error)")
            }
        }
    }

    nonisolated(unsafe) private static var warned = false  // set once, on the main path, before any task starts

    private static func warnOnce() {
        guard !warned else { return }
        warned = true
        Console.error(
            "warning: the password in --store can be read by other users of this machine (process list); use "
                + "$PGPASSWORD or $FLEETCMD_STORE")
    }
}
