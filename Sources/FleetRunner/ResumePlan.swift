/// What a resumed run does with each device, from what its journal says.
///
/// - an outcome on record: carried over as it was (`resumed: true`), not contacted again, except outcomes from
///   before anything was sent (refused, unreachable, connect timeout), which are tried again;
/// - an intent but no outcome: the device may have received the commands, so it is reported `unknown` and not
///   contacted, unless the commands are idempotent;
/// - nothing: run as usual.
public struct ResumePlan: Sendable {
    /// Devices to run now.
    public var toRun: [RunTarget]
    /// Results that stand without contacting the device (earlier outcomes, and `unknown` for interrupted ones).
    public var carried: [DeviceResult]

    public init(targets: [RunTarget], journal: RunJournal.Contents, isIdempotent: Bool) {
        toRun = []
        carried = []
        for target in targets {
            if let earlier = journal.outcomes[target.name],
                !(earlier.outcome.isBeforeSending || earlier.outcome == .tls || earlier.outcome == .skipped),
                !(isIdempotent && earlier.outcome == .unknown)
            {
                var result = earlier
                result.resumed = true
                carried.append(result)
            } else if journal.intents.contains(target.name), journal.outcomes[target.name] == nil, !isIdempotent {
                carried.append(
                    DeviceResult(
                        device: target.name, address: target.address, outcome: .unknown,
                        error:
                            "device \(target.address) may have received the commands before the run was interrupted (not resent; --idempotent resends)",
                        resumed: true))
            } else {
                toRun.append(target)
            }
        }
    }
}
