import Foundation

/// The user's home folder as shells and the XDG base-directory rules see it: `$HOME`, else the password database's
/// entry (Foundation's `NSHomeDirectory()` reads only the latter for root, so `HOME=/tmp/x fleetcmd …` would still
/// write under /root).
enum HomeDirectory {
    static func path(_ environment: [String: String] = ProcessEnvironment.variables) -> String {
        if let home = environment["HOME"], !home.isEmpty { return home }
        return NSHomeDirectory()
    }
}
