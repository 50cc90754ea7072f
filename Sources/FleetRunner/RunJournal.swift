import FleetFraming
public import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// The append-only record of a run: its parameters, then per device an intent (written before the first byte
/// is sent) and an outcome. It is what makes `--resume` safe: a device with an intent and no outcome may have
/// received the command, so it is reported `unknown` and never resent (unless idempotent).
///
/// One JSON object per line. Intents are written (`write(2)`) before ``intent(_:)`` returns, so a crash of this
/// process (even SIGKILL) never loses one; outcomes wait in memory for the next write (the next device's intent,
/// normally a moment later) or at most `outcomeDelay`, so that a steady run costs one write per device, not two. A
/// crash loses at most the outcomes of that short wait: those devices read back as `unknown` (intent, no
/// outcome), which is what a device in flight at the crash is, and are never sent again. What is written reaches
/// stable storage within about `syncInterval` (`fdatasync` on a thread of the journal's own, so that no writer, and
/// no thread serving devices, ever waits for the disk) and at once at ``sync()``: a power loss costs at most that
/// much. A torn last line is ignored on reading and terminated before appending.
public final class RunJournal: Sendable {
    /// The first line: what was run.
    public struct Header: Sendable, Codable, Hashable {
        public var type = "run"
        public var id: String
        /// Seconds since 1970.
        public var started: Double
        /// The command line's arguments after `run`, to run the same thing again on resume.
        public var arguments: [String]
        /// The commands as shown (escapes rendered).
        public var commands: [String]
        public var devices: Int
        /// The working directory the run started in (relative paths in `arguments` are relative to it).
        public var directory: String?
        public var version: Int = 1
        /// Secrets left out of `arguments` (`password`): a resume asks for them again. Never the secrets themselves.
        public var redacted: [String]?

        public init(
            id: String, started: Double, arguments: [String], commands: [String], devices: Int, directory: String? = nil
        ) {
            self.id = id
            self.started = started
            self.arguments = arguments
            self.commands = commands
            self.devices = devices
            self.directory = directory
        }
    }

    struct Record: Codable {
        var type: String
        var device: String
        var result: DeviceResult?
        var time: Double?
    }

    /// What a journal says so far.
    public struct Contents: Sendable {
        public var header: Header
        /// Devices with an intent record.
        public var intents: Set<String>
        /// The last outcome of each device that has one.
        public var outcomes: [String: DeviceResult]
        /// Whether the last line was torn (a crash mid-write).
        public var tornTail: Bool
    }

    public let path: String
    private let descriptor: Int32
    private let state: NIOLockedValueBox<State>
    private let syncInterval: Duration
    /// How long an outcome may wait in memory for the next write.
    private let outcomeDelay: Duration = .milliseconds(20)
    /// Flushes the file's data to stable storage, on ``syncQueue``: `fdatasync` (a test makes it slow).
    private let flush: @Sendable (Int32) -> Void
    /// Where the periodic flush runs, away from the threads that write.
    private let syncQueue = DispatchQueue(label: "fleetcmd.journal.sync")

    private struct State {
        var lastSync: ContinuousClock.Instant
        var dirty = false
        /// Outcome records not yet written, whole lines.
        var pending: [UInt8] = []
        var pendingSince: ContinuousClock.Instant?
        /// Whether the timer that writes waiting outcomes is set.
        var timerArmed = false
        /// Whether a flush is due on the sync queue (then a write needs no other).
        var flushScheduled = false
    }

    /// The flush a journal does unless a test gives another.
    private static let dataSync: @Sendable (Int32) -> Void = { _ = fdatasync($0) }

    private init(
        path: String, descriptor: Int32, syncInterval: Duration, flush: @escaping @Sendable (Int32) -> Void = dataSync
    ) {
        self.path = path
        self.descriptor = descriptor
        self.syncInterval = syncInterval
        self.flush = flush
        self.state = NIOLockedValueBox(State(lastSync: .now))
    }

    deinit {
        writeWaiting()
        Glibc.close(descriptor)
    }

    /// Creates a journal at `path` (its directory too) and writes `header`.
    public static func create(
        path: String, header: Header, syncInterval: Duration = .milliseconds(100)
    ) throws -> RunJournal {
        try create(path: path, header: header, syncInterval: syncInterval, flush: dataSync)
    }

    /// ``create(path:header:syncInterval:)`` with the periodic flush given (a test makes it slow).
    static func create(
        path: String, header: Header, syncInterval: Duration, flush: @escaping @Sendable (Int32) -> Void
    ) throws -> RunJournal {
        try makeDirectories((path as NSString).deletingLastPathComponent)
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw JournalError("cannot create journal \(path): \(String(cString: strerror(errno)))")
        }
        let journal = RunJournal(path: path, descriptor: descriptor, syncInterval: syncInterval, flush: flush)
        try journal.append(header)
        journal.sync()
        return journal
    }

    /// `mkdir -p`: `directory` and any missing parent, each failure in the system's words (a user whose home cannot
    /// be written to reads "cannot create journal directory …: Permission denied", not a Foundation error dump).
    static func makeDirectories(_ directory: String) throws {
        var current = directory.hasPrefix("/") ? "/" : ""
        for component in directory.split(separator: "/") {
            if !current.isEmpty, !current.hasSuffix("/") { current += "/" }
            current += component
            guard mkdir(current, 0o755) == 0 || errno == EEXIST else {
                throw JournalError("cannot create journal directory \(directory): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Opens an existing journal to append to it (a resumed run), after reading what it holds.
    public static func reopen(
        path: String, syncInterval: Duration = .milliseconds(100)
    ) throws -> (RunJournal, Contents) {
        let contents = try read(path: path)
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw JournalError("cannot open journal \(path): \(String(cString: strerror(errno)))")
        }
        if contents.tornTail, let data = FileManager.default.contents(atPath: path),
            let lastNewline = data.lastIndex(of: UInt8(ascii: "\n"))
        {
            // Drop the torn record so the next one starts on a line of its own.
            guard ftruncate(descriptor, off_t(lastNewline + 1)) == 0 else {
                Glibc.close(descriptor)
                throw JournalError("cannot repair journal \(path): \(String(cString: strerror(errno)))")
            }
        }
        return (RunJournal(path: path, descriptor: descriptor, syncInterval: syncInterval), contents)
    }

    /// Reads a journal; a torn or unreadable last line is ignored, an unreadable line elsewhere is an error.
    public static func read(path: String) throws -> Contents {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JournalError("cannot read journal \(path)")
        }
        return try parse(data, path: path)
    }

    /// Reads a journal's bytes (`path` names it in errors); see ``read(path:)``.
    public static func parse(_ data: Data, path: String) throws -> Contents {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        if endsWithNewline { lines.removeLast() }
        let decoder = JSONDecoder()
        guard let first = lines.first, let header = try? decoder.decode(Header.self, from: Data(first)),
            header.type == "run"
        else {
            throw JournalError("\(path) is not a fleetcmd run journal")
        }
        var contents = Contents(
            header: header, intents: [], outcomes: [:], tornTail: !endsWithNewline && lines.count > 1)
        for (index, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            guard let record = try? decoder.decode(Record.self, from: Data(line)) else {
                if index == lines.count - 1 {
                    contents.tornTail = true
                    continue
                }
                throw JournalError("\(path):\(index + 1): unreadable journal record")
            }
            switch record.type {
            case "intent": contents.intents.insert(record.device)
            case "outcome": if let result = record.result { contents.outcomes[record.device] = result }
            default: break
            }
        }
        return contents
    }

    /// Records that `device` is about to be sent its commands. Returns once the record is written (together with
    /// any outcomes waiting, in one write).
    public func intent(_ device: String) throws {
        try intents([device])
    }

    /// Records that `devices` are about to be sent their commands, in one write. Returns once it is written.
    public func intents(_ devices: some Sequence<String>) throws {
        var line = ""
        // The same time for every record of the write, rendered once.
        let tail = ",\"time\":" + Date().timeIntervalSince1970.description + ",\"type\":\"intent\"}\n"
        for device in devices {
            line += "{\"device\":"
            JSONText.append(device, to: &line)
            line += tail
        }
        try state.withLockedValue { state in
            var bytes = state.pending
            bytes += line.utf8
            try writeLocked(bytes, state: &state)
        }
    }

    /// Records how `result.device` ended. The record is written with the next write, within `outcomeDelay`.
    /// - Returns: the result as it was recorded, ``DeviceResult/json`` (for a caller that prints the same line).
    @discardableResult
    public func outcome(_ result: DeviceResult) throws -> String {
        let json = result.json
        var line = "{\"device\":"
        line.reserveCapacity(48 + result.device.utf8.count + json.utf8.count)
        JSONText.append(result.device, to: &line)
        line += ",\"result\":"  // piece by piece: `a + b + c` made two strings on the way
        line += json
        line += ",\"type\":\"outcome\"}\n"
        let armTimer = try state.withLockedValue { state -> Bool in
            state.pending += line.utf8
            let now = ContinuousClock.now
            if let since = state.pendingSince {
                if now - since >= outcomeDelay || state.pending.count >= 64 << 10 {
                    try writeLocked(state.pending, state: &state)
                }
            } else {
                state.pendingSince = now
            }
            guard !state.timerArmed else { return false }
            state.timerArmed = true
            return true
        }
        if armTimer { armWaitingTimer() }
        return json
    }

    /// One timer at a time (not one per outcome): when it fires it writes outcomes that have waited long enough
    /// and comes back while any wait. Nothing else may be written for a while (the last devices of a run, a slow
    /// tail), and an outcome must not wait longer than `outcomeDelay` for that.
    private func armWaitingTimer() {
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(25)) { [self] in
            let again = state.withLockedValue { state -> Bool in
                if let since = state.pendingSince, ContinuousClock.now - since >= outcomeDelay {
                    try? writeLocked(state.pending, state: &state)  // an error shows at the next write
                }
                state.timerArmed = state.pendingSince != nil
                return state.timerArmed
            }
            if again { armWaitingTimer() }
        }
    }

    /// Writes the outcomes waiting, if any.
    private func writeWaiting() {
        state.withLockedValue { state in
            if !state.pending.isEmpty { try? writeLocked(state.pending, state: &state) }
        }
    }

    /// Writes what waits and flushes everything written to stable storage.
    public func sync() {
        state.withLockedValue { state in
            if !state.pending.isEmpty { try? writeLocked(state.pending, state: &state) }  // errors: as the next write
            fsync(descriptor)
            state.lastSync = .now
            state.dirty = false
        }
    }

    private func append(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = Array(try encoder.encode(value))
        line.append(UInt8(ascii: "\n"))
        try state.withLockedValue { state in try writeLocked(state.pending + line, state: &state) }
    }

    /// Writes `bytes` (whole lines, the waiting outcomes first) in one write(2) under the lock: records never
    /// interleave, and a crash tears at most the last.
    private func writeLocked(_ bytes: [UInt8], state: inout State) throws {
        try bytes.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw JournalError("cannot write journal \(path): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
        state.pending.removeAll(keepingCapacity: true)
        state.pendingSince = nil
        state.dirty = true
        guard !state.flushScheduled else { return }
        state.flushScheduled = true
        scheduleFlush(in: max(.zero, syncInterval - (ContinuousClock.now - state.lastSync)))
    }

    /// Flushes what was written, on the sync queue, `delay` from now; again `syncInterval` later while writes
    /// keep coming. The lock is not held while the disk works: writers go on meanwhile.
    private func scheduleFlush(in delay: Duration) {
        let (seconds, attoseconds) = delay.components
        let nanoseconds = Int(seconds) * 1_000_000_000 + Int(attoseconds / 1_000_000_000)
        syncQueue.asyncAfter(deadline: .now() + .nanoseconds(nanoseconds)) { [self] in
            state.withLockedValue { $0.dirty = false }  // what is written from here on needs the next flush
            flush(descriptor)
            let again = state.withLockedValue { state -> Bool in
                state.lastSync = .now
                state.flushScheduled = state.dirty
                return state.dirty
            }
            if again { scheduleFlush(in: syncInterval) }
        }
    }
}

/// A journal that cannot be created, read or written.
public struct JournalError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
