#if canImport(Glibc)
    import Glibc
#endif
// `timespec`'s members are visible here only through the module that declares them for Foundation.
#if canImport(CoreFoundation)
    import CoreFoundation
#endif

/// CLOCK_MONOTONIC, which systemd's `MONOTONIC_USEC=` is read against (Swift's clocks do not say which one they
/// use).
enum MonotonicClock {
    /// Microseconds of CLOCK_MONOTONIC now.
    static func microseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
    }
}

extension SystemdNotifier {
    /// `MONOTONIC_USEC=…`: CLOCK_MONOTONIC now, in microseconds, as systemd wants with `RELOADING=1`.
    static func monotonicField() -> String { "MONOTONIC_USEC=\(MonotonicClock.microseconds())" }
}
