/// The run store's tables, as versioned migrations: version N is the first N entries, each a list of statements
/// run in one transaction with the version recorded in `fleetcmd_schema`. Never edit a released version; add one.
enum StoreSchema {
    static let migrations: [[String]] = [
        // 1: runs, their devices (claim, intent, outcome), and the workers' heartbeats.
        [
            """
            CREATE TABLE fleetcmd_runs (
                id text PRIMARY KEY,
                created_at timestamptz NOT NULL DEFAULT now(),
                arguments jsonb NOT NULL,
                commands jsonb NOT NULL,
                devices integer NOT NULL,
                idempotent boolean NOT NULL,
                finished_at timestamptz
            )
            """,
            """
            CREATE TABLE fleetcmd_devices (
                run_id text NOT NULL REFERENCES fleetcmd_runs (id) ON DELETE CASCADE,
                position integer NOT NULL,
                name text NOT NULL,
                address text NOT NULL,
                site text,
                host jsonb NOT NULL,
                state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'claimed', 'sending', 'done')),
                worker text,
                lease_until timestamptz,
                intent_at timestamptz,
                outcome text,
                result jsonb,
                finished_at timestamptz,
                PRIMARY KEY (run_id, position)
            )
            """,
            """
            CREATE TABLE fleetcmd_workers (
                id text PRIMARY KEY,
                site text,
                host text NOT NULL,
                pid integer NOT NULL,
                lease_seconds double precision NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                heartbeat_at timestamptz NOT NULL DEFAULT now()
            )
            """,
        ],
        // 2: claiming reads only the devices not done, in order; watching a run counts by state.
        [
            "CREATE INDEX fleetcmd_devices_open ON fleetcmd_devices (run_id, position) WHERE state <> 'done'",
            "CREATE INDEX fleetcmd_devices_sending ON fleetcmd_devices (worker) WHERE state = 'sending'",
        ],
        // 3: a site's worker claims its site's devices (then those of none) without reading past other sites', from
        // where its last claim ended.
        [
            """
            CREATE INDEX fleetcmd_devices_open_by_site ON fleetcmd_devices ((coalesce(site, '')), run_id, position)
            WHERE state <> 'done'
            """
        ],
    ]

    static var latest: Int { migrations.count }
}
