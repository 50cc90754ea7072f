import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The standard Prometheus process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`, `process_start_time_seconds`), read from
/// /proc at each scrape and rendered in the text format, HELP and TYPE included, as the Go and Python clients do.
enum ProcessMetrics {
    /// The families in Prometheus's text format; empty where /proc cannot be read.
    static func render() -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ value: Double?) {
            guard let value else { return }
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(format(value))\n"
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let page = Double(sysconf(Int32(_SC_PAGESIZE)))
        let stat = statFields()
        family(
            "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
            stat.map { (Double($0[11]) + Double($0[12])) / ticks })
        family(
            "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", stat.map { Double($0[20]) })
        family(
            "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
            stat.map { Double($0[21]) * page })
        family(
            "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
            stat.flatMap { fields in bootTime().map { $0 + Double(fields[19]) / ticks } })
        family("process_open_fds", "gauge", "Number of open file descriptors.", openDescriptors())
        var limit = rlimit()
        family(
            "process_max_fds", "gauge", "Maximum number of open file descriptors.",
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Double(limit.rlim_cur) : nil)
        return out
    }

    /// /proc/self/stat's fields after the command name: index 0 is field 3 (state) of proc(5).
    private static func statFields() -> [Int64]? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: end)...].split(separator: " ").map { Int64($0) ?? 0 }
        return fields.count > 21 ? fields : nil
    }

    /// The system's boot time, in seconds since the epoch (`btime` in /proc/stat).
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    private static func openDescriptors() -> Double? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
        return Double(entries.count)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
