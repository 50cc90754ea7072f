import FleetStore
import FleetTestSupport
import Testing

@testable import FleetCLI

/// The store URL as libpq reads it, and the password never shown.
@Suite struct StoreLocationTests {
    @Test func readsTheURLAndNeverShowsThePassword() throws {
        let location = try StoreLocation(parsing: "postgres://ops:p%40ss@db.example:6543/fleet?sslmode=require")
        #expect(location.host == "db.example" && location.port == 6543 && location.username == "ops")
        #expect(location.database == "fleet" && location.sslMode == "require")
        #expect(location.description == "postgres://ops@db.example:6543/fleet")
        #expect(!"\(location)".contains("p@ss") && !"\(location)".contains("p%40ss"))
        let defaults = try StoreLocation(parsing: "postgresql://ops@[::1]", environment: ["PGPASSWORD": "x"])
        #expect(defaults.host == "::1" && defaults.port == 5432 && defaults.database == "ops")
        #expect(defaults.sslMode == "prefer" && defaults.description == "postgres://ops@[::1]:5432/ops")
        #expect(location.passwordInURL && !defaults.passwordInURL)
        let verified = try StoreLocation(
            parsing: "postgres://ops@db/fleet?sslmode=verify-ca&sslrootcert=%2Fetc%2Fca%20one.pem")
        #expect(verified.sslMode == "verify-ca" && verified.rootCertificate == "/etc/ca one.pem")
        #expect(verified.rootCertificate != nil && !"\(verified)".contains("ca one"))
    }

    /// A store that cannot be reached says why, as a device's connect failure would (it said only "cannot connect").
    @Test func aStoreThatCannotBeReachedSaysWhy() async throws {
        let closed = try ClosedPort()
        let port = closed.port
        let refused = try await FleetcmdProcess.run(
            ["worker", "--store", "postgres://ops:s3cret@127.0.0.1:\(port)/fleet", "--until-idle"], timeout: 30)
        #expect(refused.status != 0)
        #expect(
            refused.stderr.split(separator: "\n").last
                == "fleetcmd: store postgres://ops@127.0.0.1:\(port)/fleet: cannot connect: connection refused")
        #expect(!refused.stderr.contains("s3cret"))
        let unresolved = try await FleetcmdProcess.run(
            ["worker", "--store", "postgres://ops@no-such-host.invalid/fleet", "--until-idle"], timeout: 30)
        #expect(unresolved.stderr.contains("cannot connect: cannot resolve host 'no-such-host.invalid': "))
        #expect(!unresolved.stderr.contains("SocketAddressError"))
        withExtendedLifetime(closed) {}
    }

    @Test func badURLsAreOneLineErrors() {
        for bad in [
            "mysql://a@b/c", "postgres://b/c", "postgres://a@/c", "postgres://a@b:0/c", "postgres://a@b:x/c",
            "postgres://a@b/c?sslmode=maybe", "postgres://a@b/c?sslmode", "postgres://a@b/c?application_name=x",
        ] {
            #expect(throws: StoreError.self, "\(bad)") { try StoreLocation(parsing: bad) }
        }
    }

    @Test func aStoredCommandLineKeepsNoStoreURLAndNoPassword() {
        let kept = StoreRun.storedArguments([
            "-i", "fleet.ini", "--store", "postgres://a:secret@b/c", "--password", "pw", "--store=postgres://x:y@z/w",
            "--detach", "STATUS",
        ])
        #expect(kept == ["-i", "fleet.ini", "STATUS"])
    }
}
