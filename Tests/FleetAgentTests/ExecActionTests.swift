import Foundation
import Testing

@testable import FleetAgent

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ExecActionTests {
    @Test func capturesBecomeWholeArgumentsAndNeverReachAShell() async {
        let action = ExecAction(argv: ["/usr/bin/printf", "[%s]", "{1}", "{2}"])
        let hostile = "a b; rm -rf / $(id) `id` | cat"
        let argv = action.resolvedArguments(command: "X", arguments: [hostile, "--flag"])
        #expect(argv == ["/usr/bin/printf", "[%s]", hostile, "--flag"])
        let outcome = await ExecRunner.run(argv, action: action)
        #expect(outcome == .output(Array("[\(hostile)][--flag]".utf8)))
    }

    @Test func timeoutKillsTheProgram() async {
        let action = ExecAction(argv: ["/bin/sleep", "30"], timeout: .milliseconds(200))
        let began = ContinuousClock.now
        let outcome = await ExecRunner.run(action.argv, action: action)
        #expect(outcome == .timedOut)
        #expect(ContinuousClock.now - began < .seconds(20))
    }

    /// The timeout ends what the program started too (a shell's children hold its output open): the reply comes
    /// at the timeout, not when the last of them exits.
    @Test func timeoutEndsTheProgramsChildrenToo() async {
        let action = ExecAction(argv: ["/bin/sh", "-c", "sleep 30; echo late"], timeout: .milliseconds(200))
        let began = ContinuousClock.now
        #expect(await ExecRunner.run(action.argv, action: action) == .timedOut)
        #expect(ContinuousClock.now - began < .seconds(20))
    }

    @Test func outputBeyondTheCapIsRefused() async {
        let action = ExecAction(argv: ["/usr/bin/head", "-c", "100000", "/dev/zero"], maxOutputBytes: 1000)
        #expect(await ExecRunner.run(action.argv, action: action) == .outputTooLarge)
    }

    /// The program gets stdin, stdout and stderr and nothing else of the agent's: no socket, no log, no journal
    /// (here a descriptor opened without close-on-exec), in the working directory given.
    @Test func theProgramInheritsNoDescriptorOfTheAgent() async {
        let open = Glibc.open("/dev/null", O_RDONLY)  // no O_CLOEXEC: it would be inherited by a plain exec
        defer { Glibc.close(open) }
        // `ls` lists its own descriptors: 0, 1, 2, and 3 for the folder it reads.
        let action = ExecAction(argv: ["/bin/sh", "-c", "pwd; ls /proc/self/fd"], workingDirectory: "/tmp")
        #expect(await ExecRunner.run(action.argv, action: action) == .output(Array("/tmp\n0\n1\n2\n3\n".utf8)))
    }

    @Test func nonZeroExitIsReportedWithStderr() async {
        let action = ExecAction(argv: ["/bin/sh", "-c", "echo broken >&2; exit 3"])
        #expect(await ExecRunner.run(action.argv, action: action) == .exitStatus(3, stderr: "broken"))
    }

    @Test func environmentIsExactlyWhatIsConfigured() async {
        let action = ExecAction(argv: ["/usr/bin/env"], environment: ["ONLY": "this"])
        #expect(await ExecRunner.run(action.argv, action: action) == .output(Array("ONLY=this\n".utf8)))
    }

    /// A program that cannot start is answered with the system's reason, never Foundation's sentence.
    @Test func aProgramThatCannotStartIsAnsweredWithTheSystemsReason() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("exec-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let plainFile = directory + "/not-executable"
        #expect(FileManager.default.createFile(atPath: plainFile, contents: Data("#!/bin/sh\n".utf8)))
        let noFormat = directory + "/no-format"
        #expect(
            FileManager.default.createFile(
                atPath: noFormat, contents: Data("just words\n".utf8), attributes: [.posixPermissions: 0o755]))
        let cases: [(ExecAction, String)] = [
            (ExecAction(argv: [directory + "/missing"]), "no such file or directory"),
            (ExecAction(argv: [directory]), "is a directory"),
            (
                ExecAction(argv: ["/bin/sh", "-c", "true"], workingDirectory: directory + "/gone"),
                "working directory: no such file or directory"
            ),
            (
                ExecAction(argv: ["/bin/sh", "-c", "true"], workingDirectory: plainFile),
                "working directory: not a directory"
            ),
            // No execute bit at all: refused to root too.
            (ExecAction(argv: [plainFile]), "permission denied"),
            // Executable, but neither a program nor a script (no `#!`): the system's reason, kept by Foundation
            // beneath its own error.
            (ExecAction(argv: [noFormat]), "exec format error"),
        ]
        for (action, reason) in cases {
            #expect(await ExecRunner.run(action.argv, action: action) == .failedToStart(reason), "\(action.argv)")
        }
    }

    @Test func relativeProgramIsRefused() async {
        let action = ExecAction(argv: ["ls"])
        guard case .failedToStart = await ExecRunner.run(action.argv, action: action) else {
            Issue.record("a relative argv[0] must not run")
            return
        }
    }
}
