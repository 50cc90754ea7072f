#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process's environment variables, read once from `environ` (fleetcmd never changes its own environment).
///
/// `ProcessEnvironment.variables` initialises `ProcessInfo` and then builds a new dictionary on every call;
/// `send` asked it four times (its config file, the presets file twice, the device password): a twentieth of its
/// start-up in perf. Where a name appears twice, the first wins, as `getenv(3)` has it.
enum ProcessEnvironment {
    static let variables: [String: String] = {
        var variables: [String: String] = [:]
        let start: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ  // NULL after clearenv(3)
        guard var entry = start else { return variables }
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.utf8.firstIndex(of: UInt8(ascii: "=")) {
                let name = String(text[..<equals])
                if variables[name] == nil { variables[name] = String(text[text.index(after: equals)...]) }
            }
            entry += 1
        }
        return variables
    }()
}
