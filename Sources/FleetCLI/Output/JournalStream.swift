import CoreFoundation
import Foundation

/// Whether standard error is connected to the systemd journal, as systemd.exec(5) says to tell: `$JOURNAL_STREAM`
/// holds the device and inode of the journal's stream ("DEV:INO", decimal), and is taken only if they are
/// standard error's. A variable merely inherited (a shell started by a service, `2>file`) does not count.
enum JournalStream {
    static func isStandardError(_ environment: [String: String] = ProcessEnvironment.variables) -> Bool {
        guard let value = environment["JOURNAL_STREAM"], let identity = parse(value) else { return false }
        var status = stat()
        guard fstat(STDERR_FILENO, &status) == 0 else { return false }
        return UInt64(status.st_dev) == identity.device && UInt64(status.st_ino) == identity.inode
    }

    /// "DEV:INO" as two decimal numbers; anything else is nil.
    static func parse(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }
}
