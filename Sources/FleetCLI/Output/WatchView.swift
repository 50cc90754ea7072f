import FleetRunner
import FleetStore
import Foundation

/// What `runs watch` shows of a shared run: a headline, a table per site and per worker, and the same as a record.
struct WatchView {
    let run: StoredRun
    let progress: RunProgress
    /// The workers' statuses by worker id (the tables and the record both look them up).
    let heard: [String: WorkerStatus]

    init(run: StoredRun, progress: RunProgress, workers: [WorkerStatus]) {
        self.run = run
        self.progress = progress
        self.heard = Dictionary(workers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// `run ID (COMMANDS): 20000 devices, 12345 done (ok 12000, unreachable 300), 310 sending, 7345 waiting`.
    var headline: String {
        let waiting = progress.total - progress.done - progress.sending
        let outcomes = Self.outcomes(progress).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        let state = progress.isFinished ? "finished: " : ""
        return "run \(run.id) (\(run.commands.joined(separator: " "))): \(state)\(progress.total) "
            + "device\(progress.total == 1 ? "" : "s"), \(progress.done) done"
            + (outcomes.isEmpty ? "" : " (\(outcomes))") + ", \(progress.sending) sending, \(waiting) waiting"
    }

    /// The site table (devices without a site as `-`), then the worker table (only workers that hold or finished
    /// devices of this run; `lost` once silent for longer than its lease).
    var tables: [String] {
        var sites = [["SITE", "DEVICES", "WAITING", "SENDING", "DONE", "OK"]]
        for (site, counts) in progress.bySite.sorted(by: { $0.key < $1.key }) {
            sites.append(
                [site.isEmpty ? "-" : site]
                    + [counts.total, counts.waiting, counts.sending, counts.done, counts.ok]
                    .map { String($0) })
        }
        var lines = Runs.table(sites, textColumns: [0])
        guard !progress.byWorker.isEmpty else { return lines }
        var rows = [["WORKER", "SITE", "SENDING", "DONE", "OK", "LAST HEARD"]]
        for (worker, counts) in progress.byWorker.sorted(by: { $0.key < $1.key }) {
            var last = "never"
            if let status = heard[worker] {
                last = String(format: "%.1f s ago", status.silentFor)
                if status.isLost { last += String(format: " (lost: lease %.0f s)", status.leaseSeconds) }
            }
            rows.append([
                worker, heard[worker]?.site ?? "-", String(counts.sending), String(counts.done), String(counts.ok),
                last,
            ])
        }
        lines.append("")
        lines += Runs.table(rows, textColumns: [0, 1, 5])
        return lines
    }

    /// `runs watch -o jsonl`: one record per change.
    struct Record: Encodable {
        var run: String
        var finished: Bool
        var devices: Int
        var done: Int
        var ok: Int
        var sending: Int
        var waiting: Int
        var counts: [String: Int]
        var sites: [Site]
        var workers: [Worker]

        struct Site: Encodable {
            /// `null` for devices without a site.
            @NullWhenAbsent var site: String?
            var devices, waiting, sending, done, ok: Int
        }

        struct Worker: Encodable {
            var worker: String
            @NullWhenAbsent var site: String?
            var sending, done, ok: Int
            @NullWhenAbsent var silentSeconds: Double?
            var lost: Bool

            enum CodingKeys: String, CodingKey {
                case worker, site, sending, done, ok, lost
                case silentSeconds = "silent_seconds"
            }
        }
    }

    var record: Record {
        Record(
            run: run.id, finished: progress.isFinished, devices: progress.total, done: progress.done, ok: progress.ok,
            sending: progress.sending, waiting: progress.total - progress.done - progress.sending,
            counts: progress.byOutcome,
            sites: progress.bySite.sorted(by: { $0.key < $1.key }).map { site, counts in
                Record.Site(
                    site: site.isEmpty ? nil : site, devices: counts.total, waiting: counts.waiting,
                    sending: counts.sending, done: counts.done, ok: counts.ok)
            },
            workers: progress.byWorker.sorted(by: { $0.key < $1.key }).map { worker, counts in
                Record.Worker(
                    worker: worker, site: heard[worker]?.site, sending: counts.sending, done: counts.done,
                    ok: counts.ok, silentSeconds: heard[worker].map { ($0.silentFor * 10).rounded() / 10 },
                    lost: heard[worker]?.isLost ?? false)
            })
    }

    /// Outcomes, most frequent first (ties by name).
    static func outcomes(_ progress: RunProgress) -> [(key: String, value: Int)] {
        progress.byOutcome.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    /// The status `run` gives for these outcomes: unknown (12), a failure (11), an error reply (10), else 0.
    static func exitStatus(_ progress: RunProgress) -> Int32 {
        let outcomes = progress.byOutcome.filter { $0.value > 0 }.keys.compactMap { Outcome(rawValue: $0) }
        if outcomes.contains(.unknown) { return ExitStatus.runUnknown }
        if outcomes.contains(where: \.isFailure) { return ExitStatus.runFailed }
        if outcomes.contains(.errorReply) { return ExitStatus.runErrorReply }
        return ExitStatus.success
    }
}
