/// `run --normalize REGEX` (repeatable): volatile parts of replies (counters, uptimes, time stamps) are masked
/// before replies are grouped, so a fleet answering `OK uptime=123s` and `OK uptime=9s` is one group. Each match
/// becomes `…`; when the expression has a capture group, only the first group's text does
/// (`uptime=(\d+)s` groups as `OK uptime=…s`). The JSON results keep the replies as received.
struct ReplyNormalizer: @unchecked Sendable {  // Regex values are immutable; matching does not mutate them
    let expressions: [Regex<AnyRegexOutput>]

    /// - Throws: a text naming the expression that does not compile.
    init(_ sources: [String]) throws {
        expressions = try sources.map { source in
            do {
                return try Regex(source)
            } catch {
                throw NormalizeError(source: source)
            }
        }
    }

    var isEmpty: Bool { expressions.isEmpty }

    /// `reply` with every match of every expression masked, in order.
    func normalize(_ reply: String) -> String {
        var text = reply
        for expression in expressions {
            var out = ""
            var rest = text[...]
            while let match = try? expression.firstMatch(in: rest), !match.range.isEmpty {
                let masked = match.output.count > 1 ? match.output[1].range ?? match.range : match.range
                out += rest[rest.startIndex..<masked.lowerBound] + "…"
                out += rest[masked.upperBound..<match.range.upperBound]
                rest = rest[match.range.upperBound...]
            }
            text = out + rest
        }
        return text
    }

    struct NormalizeError: Error, CustomStringConvertible {
        var source: String
        var description: String { "--normalize is not a valid regular expression: \(source)" }
    }
}
