import Logging
import PostgresNIO

/// The store's connections: a few kept open and reused; one that failed is closed, and the next request opens a
/// new one at once. (The driver's pool backs off for up to a minute after failed connects, which kept a run
/// waiting long after a restarted store was back; the callers here already retry every 500 ms.)
actor StoreConnections {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private var opened = 0
    private let keep = 8

    init(configuration: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    func take() async throws -> PostgresConnection {
        while let connection = idle.popLast() {
            if !connection.isClosed { return connection }
        }
        opened += 1
        return try await PostgresConnection.connect(configuration: configuration, id: opened, logger: logger)
    }

    func give(_ connection: PostgresConnection) async {
        if !connection.isClosed, idle.count < keep {
            idle.append(connection)
        } else {
            try? await connection.close()
        }
    }

    func discard(_ connection: PostgresConnection) async {
        try? await connection.close()
    }

    func closeAll() async {
        let all = idle
        idle = []
        for connection in all { try? await connection.close() }
    }
}
