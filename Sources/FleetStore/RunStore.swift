import FleetClient
public import FleetRunner
import Foundation
public import Logging
import NIOSSL
import PostgresNIO

/// A run store in PostgreSQL with the file journal's guarantees, shared by many workers: a device is claimed
/// (worker, lease), then its intent is committed before the first byte is sent, then its outcome is recorded.
/// Claims use `FOR UPDATE SKIP LOCKED`, as job queues do. A claim whose lease ran out is claimed again; a device
/// whose worker stopped heart-beating after the intent becomes `unknown` (or, in an idempotent run, pending again).
public final class RunStore: Sendable {
    public let location: StoreLocation
    let connections: StoreConnections
    let logger: Logger

    init(location: StoreLocation, connections: StoreConnections, logger: Logger) {
        self.location = location
        self.connections = connections
        self.logger = logger
    }

    /// Connects, brings the schema to `schemaVersion` (default: the latest), and runs `body` with the store.
    public static func with<Result: Sendable>(
        _ location: StoreLocation, logger: Logger, schemaVersion: Int? = nil,
        _ body: @Sendable (RunStore) async throws -> Result
    ) async throws -> Result {
        let connections = StoreConnections(configuration: try location.connectionConfiguration(), logger: logger)
        let store = RunStore(location: location, connections: connections, logger: logger)
        do {
            // The first connection tells a wrong password or an unreachable store at once.
            await connections.give(try await connections.take())
        } catch {
            throw StoreError("store \(location): \(describe(error))")
        }
        defer { Task { await connections.closeAll() } }
        // $FLEETCMD_STORE_SCHEMA (tests): stop at an older version, to test migrating from it.
        let target = schemaVersion ?? ProcessInfo.processInfo.environment["FLEETCMD_STORE_SCHEMA"].flatMap(Int.init)
        try await store.migrate(to: min(target ?? StoreSchema.latest, StoreSchema.latest))
        return try await body(store)
    }

    // MARK: Schema

    public static var latestSchemaVersion: Int { StoreSchema.latest }

    /// The schema's version (0: no fleetcmd tables yet).
    public func schemaVersion() async throws -> Int {
        try await guarded("read the schema version") { [self] connection in
            let rows = try await connection.query(
                "SELECT coalesce((SELECT max(version) FROM fleetcmd_schema), 0) WHERE to_regclass('fleetcmd_schema') IS NOT NULL",
                logger: logger)
            var found = 0
            for try await version in rows.decode(Int.self) { found = version }
            return found
        }
    }

    /// Applies the migrations after the current version up to `target`, each in a transaction, one migrator at a
    /// time (an advisory lock). A store newer than this fleetcmd is an error, never touched.
    func migrate(to target: Int) async throws {
        try await guarded("migrate the schema") { [self] connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(727318400)", logger: logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS fleetcmd_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                    logger: logger)
                var current = 0
                for try await version in try await connection.query(
                    "SELECT coalesce(max(version), 0) FROM fleetcmd_schema", logger: logger
                ).decode(Int.self) {
                    current = version
                }
                guard current <= StoreSchema.latest else {
                    throw StoreError(
                        "the store's schema is version \(current), newer than this fleetcmd knows (\(StoreSchema.latest)); upgrade fleetcmd"
                    )
                }
                guard current < target else { return }
                for version in (current + 1)...target {
                    for statement in StoreSchema.migrations[version - 1] {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query(
                        "INSERT INTO fleetcmd_schema (version) VALUES (\(version))", logger: logger)
                }
            }
        }
    }

    // MARK: Runs

    /// Creates a run and its devices (in chunks; one transaction).
    public func createRun(_ run: StoredRun, devices: [NewDevice]) async throws {
        let arguments = try JSONEncoder().encode(run.arguments)
        let commands = try JSONEncoder().encode(run.commands)
        try await guarded("create the run") { [self] connection in
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO fleetcmd_runs (id, arguments, commands, devices, idempotent)
                    VALUES (\(run.id), \(String(decoding: arguments, as: UTF8.self))::jsonb,
                            \(String(decoding: commands, as: UTF8.self))::jsonb, \(devices.count), \(run.isIdempotent))
                    """, logger: logger)
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                var start = 0
                while start < devices.count {
                    let chunk = devices[start..<min(start + 5000, devices.count)]
                    let positions = chunk.indices.map { Int32($0) }
                    let hosts = try chunk.map { String(decoding: try encoder.encode($0.host), as: UTF8.self) }
                    try await connection.query(
                        """
                        INSERT INTO fleetcmd_devices (run_id, position, name, address, site, host)
                        SELECT \(run.id), u.position, u.name, u.address, NULLIF(u.site, ''), u.host::jsonb
                        FROM unnest(\(positions)::int4[], \(chunk.map(\.name))::text[], \(chunk.map(\.address))::text[],
                                    \(chunk.map { $0.site ?? "" })::text[], \(hosts)::text[])
                             AS u(position, name, address, site, host)
                        """, logger: logger)
                    start += chunk.count
                }
            }
            // Statistics for the new rows (a sample): without them the planner reads every row of the run to
            // record each batch's outcomes, and claiming slows as the table grows.
            try await execute(connection, "ANALYZE fleetcmd_devices", logger: logger)
        }
    }

    /// A run's parameters, or nil.
    public func run(_ id: String) async throws -> StoredRun? {
        try await guarded("read run \(id)") { [self] connection in
            let rows = try await connection.query(
                """
                SELECT id, arguments::text, commands::text, devices, idempotent, finished_at IS NOT NULL,
                       extract(epoch FROM created_at)::float8
                FROM fleetcmd_runs WHERE id = \(id)
                """, logger: logger)
            var found: StoredRun?
            for try await (id, arguments, commands, devices, idempotent, finished, created) in rows.decode(
                (String, String, String, Int, Bool, Bool, Double).self)
            {
                let decoder = JSONDecoder()
                var run = StoredRun(
                    id: id, arguments: try decoder.decode([String].self, from: Data(arguments.utf8)),
                    commands: try decoder.decode([String].self, from: Data(commands.utf8)), isIdempotent: idempotent)
                run.devices = devices
                run.isFinished = finished
                run.created = created
                found = run
            }
            return found
        }
    }

    /// Every run, oldest first.
    public func runs() async throws -> [StoredRun] {
        let ids = try await guarded("list the runs") { [self] connection in
            var ids: [String] = []
            for try await id in try await connection.query("SELECT id FROM fleetcmd_runs ORDER BY id", logger: logger)
                .decode(String.self)
            {
                ids.append(id)
            }
            return ids
        }
        var runs: [StoredRun] = []
        for id in ids { if let run = try await run(id) { runs.append(run) } }
        return runs
    }

    // MARK: Workers

    /// Registers or refreshes a worker's heartbeat.
    public func heartbeat(_ worker: WorkerIdentity) async throws {
        try await guarded("record the heartbeat") { [self] connection in
            try await execute(
                connection,
                """
                INSERT INTO fleetcmd_workers (id, site, host, pid, lease_seconds) VALUES
                    (\(worker.id), \(worker.site), \(worker.host), \(worker.pid), \(worker.leaseSeconds))
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
                """, logger: logger)
        }
    }

    /// Claims up to `limit` devices of open runs (of `run` only, when given) that are pending or whose claim lease
    /// ran out: with a site, that site's devices first, then those with none; without, only those with none.
    ///
    /// Each is one statement reading the open-devices-by-site index (schema 3; the site as an equality, so that the
    /// index gives the order too) in order, from `cursor` (where this
    /// caller's last claim ended) rather than from the start: rows already claimed, sent to or done stay in that
    /// index as dead entries until PostgreSQL vacuums them, and a claim that started from the beginning read past
    /// all of them, a cost that grew with the run. When the scan from the cursor finds too few, the claim reads
    /// again from the start (devices given back, or claimed by a worker whose lease ran out), at most once per half
    /// lease.
    public func claim(
        _ worker: WorkerIdentity, run: String?, limit: Int, excluding: [String] = [],
        cursor: ClaimCursor = ClaimCursor()
    ) async throws
        -> (devices: [ClaimedDevice], cursor: ClaimCursor)
    {
        try await guarded("claim devices") { [self] connection in
            var claimed: [ClaimedDevice] = []
            var cursor = cursor
            for site in worker.site.map({ [$0, nil] }) ?? [nil] {
                let key = site ?? ""
                let wanted = limit - claimed.count
                guard wanted > 0 else { break }
                var found = try await claim(
                    connection, worker, site: site, run: run, from: cursor.positions[key], limit: wanted,
                    excluding: excluding)
                let now = ContinuousClock.now
                if found.count < wanted, cursor.positions[key] != nil, cursor.mayRescan(key, now: now) {
                    found += try await claim(
                        connection, worker, site: site, run: run, from: nil, limit: wanted - found.count,
                        excluding: excluding)
                    cursor.rescanAfter[key] = now + .milliseconds(Int(max(1, worker.leaseSeconds / 2) * 1000))
                }
                if let last = found.max(by: { ($0.runID, $0.position) < ($1.runID, $1.position) }) {
                    cursor.positions[key] = ClaimCursor.Position(run: last.runID, position: last.position)
                }
                claimed += found
            }
            return (claimed.sorted { ($0.runID, $0.position) < ($1.runID, $1.position) }, cursor)
        }
    }

    /// One claiming statement: the devices of `site` (nil: of no site), from `from` on (nil: from the start).
    private func claim(
        _ connection: PostgresConnection, _ worker: WorkerIdentity, site: String?, run: String?,
        from: ClaimCursor.Position?, limit: Int, excluding: [String]
    ) async throws -> [ClaimedDevice] {
        let rows = try await connection.query(
            """
            WITH picked AS (
                SELECT d.run_id, d.position FROM fleetcmd_devices d
                JOIN fleetcmd_runs r ON r.id = d.run_id AND r.finished_at IS NULL
                WHERE d.state <> 'done'
                  AND (d.state = 'pending' OR (d.state = 'claimed' AND d.lease_until < now()))
                  AND coalesce(d.site, '') = \(site ?? "")
                  AND (\(from?.run)::text IS NULL OR (d.run_id, d.position) > (\(from?.run), \(from.map { Int32($0.position) })))
                  AND (\(run)::text IS NULL OR d.run_id = \(run))
                  AND NOT (d.run_id = ANY(\(excluding)::text[]))
                ORDER BY d.run_id, d.position
                LIMIT \(limit)
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE fleetcmd_devices d
            SET state = 'claimed', worker = \(worker.id),
                lease_until = now() + make_interval(secs => \(worker.leaseSeconds))
            FROM picked WHERE d.run_id = picked.run_id AND d.position = picked.position
            RETURNING d.run_id, d.position, d.name, d.address, d.host::text
            """, logger: logger)
        var claimed: [ClaimedDevice] = []
        let decoder = JSONDecoder()
        for try await (runID, position, name, address, host) in rows.decode(
            (String, Int32, String, String, String).self)
        {
            claimed.append(
                ClaimedDevice(
                    runID: runID, position: Int(position), name: name, address: address,
                    host: try decoder.decode(StoredHost.self, from: Data(host.utf8))))
        }
        return claimed
    }

    /// Gives claims back (not started: no intent), for another worker.
    public func release(_ worker: WorkerIdentity, run: String, positions: [Int]) async throws {
        try await guarded("give claims back") { [self] connection in
            try await execute(
                connection,
                """
                UPDATE fleetcmd_devices SET state = 'pending', worker = NULL, lease_until = NULL
                WHERE run_id = \(run) AND position = ANY(\(positions.map { Int32($0) })::int4[])
                  AND worker = \(worker.id) AND state = 'claimed'
                """, logger: logger)
        }
    }

    /// How many devices of open runs this worker could still come to claim: not done, of its site or none (in
    /// flight with other workers too: a worker that dies leaves them to be settled or claimed again).
    public func openWork(_ worker: WorkerIdentity) async throws -> Int {
        try await guarded("count open work") { [self] connection in
            var open = 0
            for try await count in try await connection.query(
                """
                SELECT count(*)::int8 FROM fleetcmd_devices d JOIN fleetcmd_runs r ON r.id = d.run_id AND r.finished_at IS NULL
                WHERE d.state <> 'done' AND (d.site IS NULL OR d.site = \(worker.site))
                """, logger: logger
            ).decode(Int.self) {
                open = count
            }
            return open
        }
    }

    /// Commits the intent for claimed devices; returns the positions this worker may now send to (a claim that
    /// another worker took over after the lease ran out is not among them).
    public func intend(_ worker: WorkerIdentity, run: String, positions: [Int]) async throws -> Set<Int> {
        try await guarded("record the intents") { [self] connection in
            let rows = try await connection.query(
                """
                UPDATE fleetcmd_devices SET state = 'sending', intent_at = now()
                WHERE run_id = \(run) AND position = ANY(\(positions.map { Int32($0) })::int4[])
                  AND worker = \(worker.id) AND state = 'claimed'
                RETURNING position
                """, logger: logger)
            var allowed = Set<Int>()
            for try await position in rows.decode(Int32.self) { allowed.insert(Int(position)) }
            return allowed
        }
    }

    /// Records outcomes. A device settled as `unknown` while this worker was cut off from the store gets its true
    /// outcome; nothing else is overwritten. (Joined with `unnest` alone, the planner looks each row up by key once
    /// the table has statistics, which ``createRun(_:devices:)`` makes sure of; a `position = ANY(…)` beside the join
    /// made it scan the whole batch once per row.)
    public func record(
        _ worker: WorkerIdentity, run: String, results: [(position: Int, result: DeviceResult)]
    )
        async throws
    {
        guard !results.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let positions = results.map { Int32($0.position) }
        let outcomes = results.map { $0.result.outcome.rawValue }
        let bodies = try results.map { String(decoding: try encoder.encode($0.result), as: UTF8.self) }
        try await guarded("record the outcomes") { [self] connection in
            try await execute(
                connection,
                """
                UPDATE fleetcmd_devices d
                SET state = 'done', outcome = u.outcome, result = u.result::jsonb, finished_at = now()
                FROM unnest(\(positions)::int4[], \(outcomes)::text[], \(bodies)::text[]) AS u(position, outcome, result)
                WHERE d.run_id = \(run) AND d.position = u.position AND d.worker = \(worker.id)
                  AND (d.state = 'sending' OR (d.state = 'done' AND d.outcome = 'unknown' AND d.result IS NULL))
                """, logger: logger)
        }
    }

    /// Settles what workers that stopped heart-beating (for longer than their lease) left behind: a device with
    /// an intent and no outcome is `unknown` (pending again in an idempotent run); then marks runs with every
    /// device done as finished. Any worker may do this; it is idempotent.
    @discardableResult
    public func settle() async throws -> Int {
        try await guarded("settle abandoned devices") { [self] connection in
            var settled = 0
            for try await count in try await connection.query(
                """
                WITH gone AS (
                    UPDATE fleetcmd_devices d
                    SET state = CASE WHEN r.idempotent THEN 'pending' ELSE 'done' END,
                        outcome = CASE WHEN r.idempotent THEN NULL ELSE 'unknown' END,
                        worker = CASE WHEN r.idempotent THEN NULL ELSE d.worker END,
                        finished_at = CASE WHEN r.idempotent THEN NULL ELSE now() END
                    FROM fleetcmd_runs r, fleetcmd_workers w
                    WHERE d.run_id = r.id AND d.state = 'sending' AND w.id = d.worker
                      AND w.heartbeat_at < now() - make_interval(secs => w.lease_seconds)
                    RETURNING 1
                )
                SELECT count(*)::int8 FROM gone
                """, logger: logger
            ).decode(Int.self) {
                settled = count
            }
            try await execute(
                connection,
                """
                UPDATE fleetcmd_runs r SET finished_at = now()
                WHERE r.finished_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM fleetcmd_devices d WHERE d.run_id = r.id AND d.state <> 'done')
                """, logger: logger)
            return settled
        }
    }

    /// Runs a statement and reads its result to the end (so that its connection goes back to the pool at once).
    private func execute(_ connection: PostgresConnection, _ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await connection.query(query, logger: logger) {}
    }

    // MARK: Reading

    /// A run's devices by state and outcome, and per site and worker.
    public func progress(of run: String) async throws -> RunProgress {
        try await guarded("read the progress of run \(run)") { [self] connection in
            var progress = RunProgress()
            for try await (state, outcome, site, worker, count) in try await connection.query(
                """
                SELECT state, outcome, site, worker, count(*)::int8 FROM fleetcmd_devices WHERE run_id = \(run)
                GROUP BY 1, 2, 3, 4
                """, logger: logger
            ).decode((String, String?, String?, String?, Int).self) {
                progress.add(state: state, outcome: outcome, site: site, worker: worker, count: count)
            }
            return progress
        }
    }

    /// The workers named, as the store last heard from them (a worker that never heart-beat is not among them).
    public func workers(_ ids: [String]) async throws -> [WorkerStatus] {
        guard !ids.isEmpty else { return [] }
        return try await guarded("read the workers' heartbeats") { [self] connection in
            var workers: [WorkerStatus] = []
            for try await (id, site, silent, lease) in try await connection.query(
                """
                SELECT id, site, extract(epoch FROM now() - heartbeat_at)::float8, lease_seconds
                FROM fleetcmd_workers WHERE id = ANY(\(ids)) ORDER BY id
                """, logger: logger
            ).decode((String, String?, Double, Double).self) {
                workers.append(WorkerStatus(id: id, site: site, silentFor: silent, leaseSeconds: lease))
            }
            return workers
        }
    }

    /// Every device of a run in inventory order, with its outcome, worker and site.
    public func devices(of run: String) async throws -> [StoredDevice] {
        try await guarded("read the devices of run \(run)") { [self] connection in
            var devices: [StoredDevice] = []
            let decoder = JSONDecoder()
            for try await (name, address, site, worker, state, outcome, result) in try await connection.query(
                """
                SELECT name, address, site, worker, state, outcome, result::text FROM fleetcmd_devices
                WHERE run_id = \(run) ORDER BY position
                """, logger: logger
            ).decode((String, String, String?, String?, String, String?, String?).self) {
                var stored = StoredDevice(name: name, address: address, site: site, worker: worker, state: state)
                if let result {
                    stored.result = try decoder.decode(DeviceResult.self, from: Data(result.utf8))
                } else if outcome == Outcome.unknown.rawValue {
                    stored.result = DeviceResult(
                        device: name, address: address, outcome: .unknown,
                        error: "worker \(worker ?? "?") stopped after the intent and before the outcome: "
                            + "the device may have received the commands")
                }
                devices.append(stored)
            }
            return devices
        }
    }

    /// Runs `body`, turning the driver's errors into one plain line (the driver's own text can carry the query).
    private func guarded<T: Sendable>(
        _ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connections = self.connections
        let location = self.location
        do {
            // Bounded: a request on a connection the store dropped without a word can wait forever and need not
            // heed cancellation; after 15 s the caller gets an error (and retries on a new connection), and the
            // stuck request is left to end when the connection does.
            return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let once = ResumeOnce(continuation)
                let work = Task {
                    do {
                        let connection = try await connections.take()
                        do {
                            let value = try await body(connection)
                            await connections.give(connection)
                            once.resume(with: .success(value))
                        } catch {
                            await connections.discard(connection)
                            once.resume(with: .failure(error))
                        }
                    } catch {
                        once.resume(with: .failure(error))
                    }
                }
                Task {
                    try? await Task.sleep(for: .seconds(15))
                    work.cancel()
                    once.resume(with: .failure(StoreError("store \(location): cannot \(what): no answer within 15 s")))
                }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if let own = Self.innermost(error) as? StoreError { throw own }
            throw StoreError("store \(location): cannot \(what): \(Self.describe(error))")
        }
    }

    /// A failed TLS handshake, said as curl says it (never BoringSSL's own text).
    static func tlsProblem(_ error: any Error) -> String? {
        if let error = error as? NIOSSLExtraError, error == .failedToValidateHostname {
            return "the store's TLS certificate does not name this host (sslmode=verify-full)"
        }
        guard let error = error as? NIOSSLError else { return nil }
        switch error {
        case .handshakeFailed:
            return "the TLS handshake failed: the store's certificate is not trusted (sslrootcert) or TLS is refused"
        default:
            return "the TLS connection failed"
        }
    }

    /// The error a transaction wrapper carries (its closure's, else BEGIN's or COMMIT's).
    static func innermost(_ error: any Error) -> any Error {
        guard let transaction = error as? PostgresTransactionError else { return error }
        return transaction.closureError ?? transaction.beginError ?? transaction.commitError ?? error
    }

    /// One plain line: the server's message, or what happened to the connection; never the driver's own text
    /// (which can carry the query and its values).
    static func describe(_ error: any Error) -> String {
        let error = innermost(error)
        if let own = error as? StoreError { return own.description }
        guard let error = error as? PSQLError else { return "unexpected error" }
        if let message = error.serverInfo?[.message] { return message }
        if let tls = error.underlying.flatMap(tlsProblem) { return tls }
        switch error.code {
        case .connectionError, .failedToAddSSLHandler:
            // Why, as a device's connect failure says it: `cannot connect: connection refused`.
            guard let underlying = error.underlying else { return "cannot connect" }
            return "cannot connect: "
                + DeviceError.connectProblem(underlying, connectTimeout: StoreLocation.connectTimeout)
        case .serverClosedConnection, .clientClosedConnection: return "the connection closed"
        case .queryCancelled: return "the query was cancelled"
        case .sslUnsupported: return "the server does not offer TLS (sslmode=require)"
        default: return "the store refused the request"
        }
    }
}
