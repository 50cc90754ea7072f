public import Yams

/// A YAML parse error as messages give it: the line it names and the parser's problem in one phrase
/// (`did not find expected node content`), not Yams's description (the parser's context, the offending text and a
/// caret, over several lines). Every YAML file fleetcmd reads reports its errors through here.
public enum YAMLErrorText {
    /// The 1-based line the error names; 0 when it names none.
    public static func line(of error: any Error) -> Int {
        guard let error = error as? YamlError else { return 0 }
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return 0
        }
    }

    /// What went wrong, in one line.
    public static func problem(of error: any Error) -> String {
        if let error = error as? YamlError {
            switch error {
            case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
                return problem
            default: break
            }
        }
        let text = "\(error)"
        return text.split(separator: "\n").first.map(String.init) ?? text
    }

    /// `path:line: not valid YAML: problem` (without `:line` when the error names none).
    public static func describe(_ error: any Error, path: String) -> String {
        let line = line(of: error)
        return "\(path)\(line > 0 ? ":\(line)" : ""): not valid YAML: \(problem(of: error))"
    }
}
