/// `--error-pattern`, shared by the runner's tasks.
struct ErrorPattern: @unchecked Sendable {  // a Regex is an immutable value; matching does not mutate it
    let regex: Regex<AnyRegexOutput>

    func matches(_ reply: String) -> Bool { (try? regex.firstMatch(in: reply)) != nil }
}
