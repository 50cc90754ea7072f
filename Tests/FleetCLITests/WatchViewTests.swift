import FleetStore
import Foundation
import Testing

@testable import FleetCLI

/// `runs watch`'s view of a shared run: the headline, the site and worker tables, the record, the exit status.
@Suite struct WatchViewTests {
    static func progress(finished: Bool) -> RunProgress {
        var progress = RunProgress()
        progress.add(state: "done", outcome: "ok", site: "north", worker: "a:1:f", count: 7)
        progress.add(state: "done", outcome: "unreachable", site: "north", worker: "a:1:f", count: 1)
        progress.add(
            state: finished ? "done" : "sending", outcome: finished ? "ok" : nil, site: nil, worker: "b:2:e",
            count: 2)
        progress.add(
            state: finished ? "done" : "pending", outcome: finished ? "ok" : nil, site: nil, worker: nil,
            count: 10)
        return progress
    }

    static let run = StoredRun(id: "r1", arguments: ["PING"], commands: ["PING"], isIdempotent: false)
    static let workers = [
        WorkerStatus(id: "a:1:f", site: "north", silentFor: 0.42, leaseSeconds: 30),
        WorkerStatus(id: "b:2:e", site: nil, silentFor: 45, leaseSeconds: 30),
    ]

    @Test func aRunUnderWayByStateSiteAndWorker() {
        let view = WatchView(run: Self.run, progress: Self.progress(finished: false), workers: Self.workers)
        #expect(view.headline == "run r1 (PING): 20 devices, 8 done (ok 7, unreachable 1), 2 sending, 10 waiting")
        #expect(
            view.tables == [
                "SITE   DEVICES  WAITING  SENDING  DONE  OK",
                "-           12       10        2     0   0",
                "north        8        0        0     8   7",
                "",
                "WORKER  SITE   SENDING  DONE  OK  LAST HEARD",
                "a:1:f   north        0     8   7  0.4 s ago",
                "b:2:e   -            2     0   0  45.0 s ago (lost: lease 30 s)",
            ])
        let record = view.record
        #expect(!record.finished && record.waiting == 10 && record.sending == 2 && record.counts["unreachable"] == 1)
        #expect(record.sites.map(\.site) == [nil, "north"] && record.workers.map(\.lost) == [false, true])
        let json = Render.json(record)
        #expect(json.contains(#""site":null"#) && json.contains(#""silent_seconds":0.4"#))
    }

    @Test func aFinishedRunExitsAsRunWould() {
        let finished = Self.progress(finished: true)
        let view = WatchView(run: Self.run, progress: finished, workers: Self.workers)
        #expect(view.headline.hasPrefix("run r1 (PING): finished: 20 devices, 20 done (ok 19, unreachable 1)"))
        #expect(WatchView.exitStatus(finished) == ExitStatus.runFailed)
        var clean = RunProgress()
        clean.add(state: "done", outcome: "ok", site: nil, worker: "a", count: 3)
        #expect(WatchView.exitStatus(clean) == ExitStatus.success)
        clean.add(state: "done", outcome: "error-reply", site: nil, worker: "a", count: 1)
        #expect(WatchView.exitStatus(clean) == ExitStatus.runErrorReply)
        clean.add(state: "done", outcome: "unknown", site: nil, worker: "a", count: 1)
        #expect(WatchView.exitStatus(clean) == ExitStatus.runUnknown)
    }
}
