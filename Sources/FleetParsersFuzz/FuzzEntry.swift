import FleetAgentConfig
import FleetCLI
import FleetInventory
import FleetRunner
import Foundation

// libFuzzer entry point over every parser of user files and network-facing text that is not the reply scanner
// (FleetFramingFuzz has that): inventories (INI, YAML, ansible-inventory JSON), host patterns, the agent config,
// user presets, the run journal. FLEETCMD_FUZZ_TARGET picks one (scripts/fuzz.sh runs each in turn); without it,
// the first input byte picks. Any crash, trap, hang or runaway allocation is a bug.
// Build: swift build --sanitize fuzzer --product FleetParsersFuzz (see scripts/fuzz.sh).

enum Target: String, CaseIterable {
    case inventoryINI = "inventory-ini"
    case inventoryYAML = "inventory-yaml"
    case inventoryJSON = "inventory-json"
    case pattern
    case agentConfig = "agent-config"
    case presets
    case journal
}

let chosen: Target? = ProcessInfo.processInfo.environment["FLEETCMD_FUZZ_TARGET"].flatMap(Target.init)

/// An inventory the pattern target selects from: groups, children, ranges, a host named like a group.
let patternInventory: Inventory? = try? Inventory.parse(
    "loose\n[web]\nweb[01:20]\n[db]\ndb[a:f]\nweb01\n[lab:children]\nweb\ndb\n[db:vars]\nx=1\n[web]\nweb\n",
    path: "fuzz.ini")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let target: Target
    if let chosen {
        target = chosen
    } else {
        guard let first = bytes.first else { return 0 }
        target = Target.allCases[Int(first) % Target.allCases.count]
        bytes.removeFirst()
    }
    let text = String(decoding: bytes, as: UTF8.self)
    switch target {
    case .inventoryINI: check(try? Inventory.parse(text, path: "fuzz.ini"))
    case .inventoryYAML: check(try? Inventory.parse(text, path: "fuzz.yml"))
    case .inventoryJSON: check(try? Inventory.parse(text, path: "fuzz.json"))
    case .pattern:
        if let patternInventory {
            _ = try? HostPattern(text.replacingOccurrences(of: "@", with: "")).evaluate(in: patternInventory)
        }
    case .agentConfig: _ = try? AgentConfigFile.parse(text, path: "fuzz.yaml")
    case .presets: FuzzingEntryPoints.presets(text)
    case .journal: _ = try? RunJournal.parse(Data(bytes), path: "fuzz.jsonl")
    }
    return 0
}

/// Everything a parsed inventory offers is computed once: names, groups, variables, listings. Ranges make a short
/// line stand for many hosts (`a[0:9][0:9][0:9]`: a thousand; the parser caps one entry at ten million), and listing
/// them all is linear but slow under the fuzzer's instrumentation, so large ones are only parsed.
func check(_ inventory: Inventory?) {
    guard let inventory, inventory.hostCount <= 5_000 else { return }
    for name in inventory.hostNames.prefix(200) { _ = try? inventory.host(named: name) }
    for group in inventory.groupNames.prefix(50) { _ = inventory.hostNames(inGroup: group) }
    _ = try? inventory.ansibleList()
    _ = inventory.ansibleGraph()
}
