import ArgumentParser

/// `run --format`: text (grouped), jsonl (one object per device as it finishes) or json (one array).
enum RunOutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, jsonl, json
}
