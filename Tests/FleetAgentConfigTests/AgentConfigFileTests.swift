import FleetAgent
import FleetAgentConfig
import FleetFraming
import Logging
import Testing

@Suite struct AgentConfigFileTests {
    @Test func goodFileSetsEverything() throws {
        let file = try AgentConfigFile.parse(
            """
            listen: ["127.0.0.1:9200", "[::1]:9201"]
            preset: line
            limits:
              max_frame: 8KiB
              idle_timeout: 30s
              frame_timeout: 2s
              max_connections: 10
              max_connections_per_source: 5
              max_concurrent_execs: 2
              max_echo: 100
            shutdown_grace: 3s
            unknown_reply: "ERR what?"
            log_level: warning
            metrics: 127.0.0.1:9464
            builtins: false
            commands:
              - {name: HELLO, reply: hi}
              - {prefix: SET TEMP, reply: "OK {1}"}
              - {pattern: '^GET (\\w+)$', reply: "{1}=42"}
              - {name: VER, builtin: version}
              - name: WHO
                exec: {argv: [/usr/bin/id, -un], timeout: 1s, max_output: 1KiB, cwd: /tmp, env: {LANG: C}}
            """
        )
        #expect(file.configuration.listen == [.init(host: "127.0.0.1", port: 9200), .init(host: "::1", port: 9201)])
        #expect(file.configuration.format.name == "line")
        #expect(file.configuration.limits.maxFrameBytes == 8192)
        #expect(file.configuration.limits.idleTimeout == .seconds(30))
        #expect(file.configuration.limits.maxConnectionsPerSource == 5)
        #expect(file.configuration.shutdownGracePeriod == .seconds(3))
        #expect(file.configuration.unknownCommandReply == .text("ERR what?"))
        #expect(file.logLevel == .warning)
        #expect(file.metrics == "127.0.0.1:9464")
        #expect(file.router.routes.count == 5)
        #expect(file.router.match("PING") == nil)
        #expect(file.router.match("SET TEMP 5")?.arguments == ["5"])
        guard case .exec(let exec) = file.router.match("WHO")?.route.action else { Issue.record("WHO is exec"); return }
        #expect(exec.argv == ["/usr/bin/id", "-un"])
        #expect(exec.environment == ["LANG": "C"])
        #expect(exec.workingDirectory == "/tmp")
    }

    @Test func emptyFileServesTheBuiltins() throws {
        let file = try AgentConfigFile.parse("")
        #expect(file.router.match("PING") != nil)
        #expect(file.configuration.listen == [.init(host: "0.0.0.0", port: 9100)])
    }

    @Test func everyProblemIsReportedWithItsLine() {
        let error = #expect(throws: AgentConfigFile.LoadError.self) {
            try AgentConfigFile.parse(
                """
                listen: [nonsense]
                preset: bogus
                limits: {max_frame: lots, idle_timeout: soon, max_connections: -1}
                colour: blue
                commands:
                  - {name: A}
                  - {name: B, reply: x, builtin: PING}
                  - {pattern: '(', reply: x}
                  - {name: C, builtin: REBOOT}
                  - {name: D, exec: {argv: [rm, -rf, /]}}
                  - {name: E, replly: x}
                """,
                path: "agent.yaml"
            )
        }
        let lines = error?.problems.map(\.line) ?? []
        #expect(lines == [1, 2, 3, 3, 3, 4, 6, 7, 8, 9, 10, 11, 11])
        #expect(error?.description.contains("agent.yaml:4: unknown setting 'colour'") == true)
        #expect(error?.description.contains("agent.yaml:10: exec argv[0] must be an absolute path, not 'rm'") == true)
    }

    @Test func invalidYAMLNamesTheLine() {
        let error = #expect(throws: AgentConfigFile.LoadError.self) {
            try AgentConfigFile.parse("listen: [a\nport: 1\n  bad: : :")
        }
        #expect(error?.problems.first?.message.hasPrefix("not valid YAML") == true)
        #expect((error?.problems.first?.line ?? 0) > 0)
    }
}
