#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif  // strerror

/// Text of errors from libraries, made fit for a user: a library's own text can carry the build folder it was
/// compiled in (`… at /home/ci/.build/checkouts/…/file.cc:231`); that part never reaches a message or a log line.
public enum UserFacingText {
    /// The system's reason for error number `code`, in lower case as messages show it after a colon
    /// (`connection refused`, `no such file or directory`).
    public static func systemReason(_ code: Int32) -> String { String(cString: strerror(code)).lowercased() }

    public static func sanitized(_ text: String) -> String {
        var result = text
        // "… at /path/file.cc:231" (BoringSSL, NIO's file/line in error descriptions)
        while let range = result.firstRange(of: " at /") {
            var end = range.upperBound
            while end < result.endIndex, !" \t\n)]}".contains(result[end]) { end = result.index(after: end) }
            result.removeSubrange(range.lowerBound..<end)
        }
        // Any other absolute path into a build folder.
        while let range = result.firstRange(of: "/.build/") {
            var start = range.lowerBound
            while start > result.startIndex, !" \t\n([{'\"".contains(result[result.index(before: start)]) {
                start = result.index(before: start)
            }
            var end = range.upperBound
            while end < result.endIndex, !" \t\n)]}'\"".contains(result[end]) { end = result.index(after: end) }
            result.replaceSubrange(start..<end, with: "(build path)")
        }
        return result
    }
}
