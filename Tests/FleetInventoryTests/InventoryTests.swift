import FleetInventory
import Foundation
import Testing

func ep(_ inventory: Inventory, _ name: String, _ defaultPort: Int) throws -> String? {
    try inventory.host(named: name).map { host in
        let endpoint = host.endpoint(defaultPort: defaultPort)
        return "\(endpoint.host):\(endpoint.port.map(String.init) ?? "-")"
    }
}

/// Expectations here were printed by ansible-core 2.19 for the same text (Tests/inventory_parity checks thousands
/// more against it in CI).
@Suite struct InventoryTests {
    /// The device's port from each kind of value: a whole number as it stands, text read as a number, anything
    /// else (or out of range) no port.
    @Test func aPortIsReadFromEveryKindOfValue() throws {
        let inventory = try Inventory.parse(
            """
            entry:9300
            big fleetcmd_port=70000
            zero device_port=0
            spaced fleetcmd_port=' 9100 '
            text fleetcmd_port='9101'
            float fleetcmd_port=9100.0
            flag fleetcmd_port=True
            both:9400 device_port=9401
            plain
            """, path: "ports.ini")
        #expect(try ep(inventory, "entry", 1) == "entry:9300")
        #expect(try ep(inventory, "big", 1) == "big:-")
        #expect(try ep(inventory, "zero", 1) == "zero:-")
        #expect(try ep(inventory, "spaced", 1) == "spaced:9100")
        #expect(try ep(inventory, "text", 1) == "text:9101")
        #expect(try ep(inventory, "float", 1) == "float:-")
        #expect(try ep(inventory, "flag", 1) == "flag:-")
        #expect(try ep(inventory, "both", 1) == "both:9401")
        #expect(try ep(inventory, "plain", 9100) == "plain:9100")
    }

    @Test func readsAnsibleINIWithRangesChildrenAndVariables() throws {
        let inventory = try Inventory.parse(
            """
            # printers and projectors
            loose.example:9200

            [printers]
            prn[01:03] fleetcmd_preset=pjl
            prn-lobby ansible_host=10.0.0.9 fleetcmd_port=9101   # the one by the door

            [projectors]   # a comment after a header
            proj[a:c]

            [av:children]
            projectors

            [av:vars]
            fleetcmd_port=4352
            site="Main hall"

            [all:vars]
            fleetcmd_port=9100
            """, path: "hosts.ini")
        #expect(
            inventory.hostNames == ["loose.example", "prn01", "prn02", "prn03", "prn-lobby", "proja", "projb", "projc"])
        // host:port sets ansible_port, as in Ansible; fleetcmd_port from [all:vars] is looked at first.
        #expect(try ep(inventory, "loose.example", 1) == "loose.example:9100")
        #expect(try inventory.host(named: "loose.example")?.values["ansible_port"] == .int(9200))
        #expect(try ep(inventory, "prn02", 1) == "prn02:9100")
        #expect(try inventory.host(named: "prn02")?.preset == "pjl")
        #expect(try ep(inventory, "prn-lobby", 1) == "10.0.0.9:9101")
        #expect(try ep(inventory, "projb", 1) == "projb:4352")
        #expect(try inventory.host(named: "projb")?.values["site"] == .string("Main hall"))
        #expect(try inventory.host(named: "projb")?.groups == ["av", "projectors"])
        #expect(inventory.hostNames(inGroup: "av") == ["proja", "projb", "projc"])
        #expect(inventory.hostNames(inGroup: "ungrouped") == ["loose.example"])
    }

    @Test func iniValuesAreReadAsPythonLiterals() throws {
        let inventory = try Inventory.parse(
            "h1 a=5 b='x y' c=True d=[1,2] e=0x10 f=plain g=\"5 # no comment\"\n[all:vars]\nq=5 # c\nr=hello # c\n",
            path: "v.ini")
        let values = try #require(try inventory.host(named: "h1")?.values)
        #expect(values["a"] == .int(5))
        #expect(values["b"] == .string("x y"))
        #expect(values["c"] == .bool(true))
        #expect(values["d"] == .list([.int(1), .int(2)]))
        #expect(values["e"] == .int(16))
        #expect(values["f"] == .string("plain"))
        #expect(values["g"] == .int(5))  // the quotes go (shlex), then Python drops the comment
        #expect(values["q"] == .int(5))
        #expect(values["r"] == .string("hello # c"))
    }

    @Test func readsAnsibleYAMLWithAnchorsAndMergeKeys() throws {
        let inventory = try Inventory.parse(
            """
            all:
              vars:
                fleetcmd_port: 9100
              hosts:
                edge1:
              children:
                printers:
                  hosts:
                    prn[001:010:3]:
                      fleetcmd_preset: line
                  vars: &printer_vars
                    device_port: 9101
                    color: blue
                lab:
                  children:
                    printers:
                  hosts:
                    bench: {ansible_host: 127.0.0.1, fleetcmd_port: 19000}
                  vars:
                    <<: *printer_vars
                    color: red
            """, path: "fleet.yaml")
        #expect(inventory.hostNames == ["edge1", "prn001", "prn004", "prn007", "prn010", "bench"])
        #expect(try inventory.host(named: "prn004")?.preset == "line")
        #expect(try ep(inventory, "prn004", 1) == "prn004:9100")
        #expect(try ep(inventory, "bench", 1) == "127.0.0.1:19000")
        #expect(try inventory.host(named: "bench")?.values["color"] == .string("red"))
        #expect(try inventory.host(named: "bench")?.values["device_port"] == .int(9101))
        #expect(inventory.hostNames(inGroup: "lab") == ["bench", "prn001", "prn004", "prn007", "prn010"])
    }

    @Test func plainListRepeatingAHostKeepsEveryDevice() throws {
        // fleetcmd simulate --inventory-out fleet.txt --bind 127.0.0.1 --base-port 20001 writes this. Ansible would
        // merge the lines into one host 127.0.0.1 (port 20001); fleetcmd keeps three devices (docs/inventory.md).
        let inventory = try Inventory.parse("127.0.0.1:20001\n127.0.0.1:20002\n127.0.0.1:20003\nother:9100\n")
        #expect(inventory.hostNames == ["127.0.0.1:20001", "127.0.0.1:20002", "127.0.0.1:20003", "other"])
        #expect(try ep(inventory, "127.0.0.1:20002", 1) == "127.0.0.1:20002")
        #expect(try ep(inventory, "other", 1) == "other:9100")
        // A name listed again with the same port is one device; with another port (or none), each is its own.
        let mixed = try Inventory.parse("h:9100\nh:9100\nk\nk:5\nm:1\nm:2\nm:1\nn[1:3]:7\nn2:8\n")
        #expect(mixed.hostNames == ["h", "k", "k:5", "m:1", "m:2", "n1", "n2:7", "n3", "n2:8"])
        #expect(try ep(mixed, "h", 1) == "h:9100")
        #expect(try ep(mixed, "k:5", 1) == "k:5")
        #expect(try ep(mixed, "n3", 1) == "n3:7")
    }

    @Test func ansibleFormatsMergeRepeatedHostsWithAWarning() throws {
        let inventory = try Inventory.parse("[a]\nh:2000\n[b]\nh:3000\n", path: "m.ini")
        #expect(inventory.hostNames == ["h"])
        #expect(try ep(inventory, "h", 1) == "h:2000")
        #expect(inventory.warnings.contains { $0.contains("port 2000 and again with port 3000") })
    }

    @Test func rejectsWhatAnsibleRejects() {
        for (text, fragment) in [
            ("[printers]\nprn[01:100]\n", "equal-length"),
            ("[ghost:vars]\nx=1\n", "Section [ghost:vars] not valid for undefined group 'ghost'"),
            ("[web:children]\nnobody\n", "includes undefined group 'nobody'"),
            ("[printers:stuff]\n", "has unknown type: stuff"),
            ("[g]\nh1 port\n", "Expected key=value host variable assignment"),
            ("[a:children]\nb\n[b:children]\na\n", "recursive dependency loop"),
        ] {
            #expect {
                _ = try Inventory.parse(text, path: "a.ini")
            } throws: { error in
                (error as? InventoryError).map { $0.description.contains(fragment) && $0.path == "a.ini" } ?? false
            }
        }
        // YAML with a key written twice: Ansible keeps the last silently; fleetcmd refuses (docs/inventory.md).
        #expect(throws: InventoryError.self) { try Inventory.parse("all:\n  hosts:\n    a:\n    a:\n", path: "d.yml") }
    }

    /// PyYAML (and so Ansible) refuses a mapping key that is a mapping or a list. Rendering such keys as text
    /// instead grew twice as long with every level of nesting: 250 bytes from the fuzzer took minutes.
    @Test func yamlKeysThatAreMappingsOrListsAreRefusedAsAnsibleDoes() {
        let nested = "all:\n  hosts:\n    h1:\n      deep:\n        " + String(repeating: "? ", count: 60) + "leaf\n"
        for text in [nested, "all:\n  hosts:\n    h1:\n      v:\n        ? [a, b]\n        : 1\n"] {
            #expect {
                _ = try Inventory.parse(text, path: "k.yml")
            } throws: { error in
                (error as? InventoryError).map {
                    $0.line == 5 && $0.message == "While constructing a mapping found unhashable key"
                } ?? false
            }
        }
    }

    /// A "billion laughs" document: nine levels of lists of nine aliases each. Refused at 20 million values
    /// (ansible-inventory spends minutes on it).
    @Test func yamlAliasesThatExpandToBillionsOfValuesAreRefused() {
        var lines = ["all:", "  vars:", "    a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...8 {
            lines.append(
                "    a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ")
                    + "]")
        }
        lines.append("  hosts:\n    h1:")
        #expect {
            _ = try Inventory.parse(lines.joined(separator: "\n") + "\n", path: "laughs.yml")
        } throws: { error in
            (error as? InventoryError)?.message.contains("expands to more than 20000000 values") ?? false
        }
    }

    @Test func crlfLettersAcrossCaseAndOpenStartRanges() throws {
        let inventory = try Inventory.parse("[g]\r\nm[y:B]\r\nz[:2]\r\n", path: "c.ini")
        #expect(inventory.hostNames == ["my", "mz", "mA", "mB", "z0", "z1", "z2"])
    }

    @Test func aHostNamedLikeItsGroupSetsTheGroupsVariables() throws {
        let inventory = try Inventory.parse("[web]\nweb color=red\nother\n", path: "s.ini")
        #expect(try inventory.host(named: "other")?.values["color"] == .string("red"))
        #expect(inventory.warnings.contains("Found both group and host with same name: web"))
    }

    @Test func patternsFollowAnsible() throws {
        let inventory = try Inventory.parse("[web]\nweb[1:4]\n[db]\ndb1\nweb4\n[lab]\nweb1\ndb1\n", path: "x.ini")
        func names(_ pattern: String) throws -> [String] { try HostPattern(pattern).evaluate(in: inventory).names }
        let expected: [(String, [String])] = [
            ("all", ["web1", "web2", "web3", "web4", "db1"]), ("web:db", ["web1", "web2", "web3", "web4", "db1"]),
            ("web:&lab", ["web1"]), ("web:!db", ["web1", "web2", "web3"]), ("!db", ["web1", "web2", "web3"]),
            ("web[2:3]", ["web3", "web4"]), ("w*:!web1", ["web2", "web3", "web4"]), ("~db\\d", ["db1"]),
            ("~eb", []), ("web[1]", ["web2"]), ("web[-1]", ["web4"]), ("web[1:]", ["web2", "web3", "web4"]),
            ("all[0]", ["web1"]), ("web[!13]", ["web2", "web4"]), ("we?[2-3]", ["web3", "web4"]),
            ("db1,web2", ["web2", "db1"]), ("web[0:0]", ["web1"]),
        ]
        for (pattern, hosts) in expected { #expect(try names(pattern) == hosts, "\(pattern)") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("limit-\(UUID()).txt")
        try "web3\n!web4\n\ndb\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try names("@\(file.path)") == ["web3", "db1"])
        #expect(throws: InventoryError.self) { try names("lab,web[10]") }
        let missing = try HostPattern("nosuch,db").evaluate(in: inventory)
        #expect(missing.names == ["web4", "db1"])
        #expect(missing.warnings == ["Could not match supplied host pattern, ignoring: nosuch"])
    }

    /// An executable file is a script (as Ansible's `script` plugin has it); one the system cannot run says why.
    @Test func aScriptThatCannotRunSaysWhy() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("inv-\(UUID()).sh")
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(
            FileManager.default.createFile(
                atPath: file.path, contents: Data("web1\n".utf8), attributes: [.posixPermissions: 0o755]))
        #expect {
            _ = try Inventory.load(sources: [file.path])
        } throws: { error in
            (error as? InventoryError)?.description
                == "\(file.path): cannot run the inventory script: exec format error"
        }
    }

    @Test func groupAndHostVarsFilesBesideTheInventory() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("inv-\(UUID())")
        let manager = FileManager.default
        try manager.createDirectory(
            at: folder.appendingPathComponent("group_vars/web"), withIntermediateDirectories: true)
        try manager.createDirectory(at: folder.appendingPathComponent("host_vars"), withIntermediateDirectories: true)
        defer { try? manager.removeItem(at: folder) }
        try "[web]\nw1\nw2\n[web:vars]\np=inv\n[all:vars]\nq=inv\n".write(
            to: folder.appendingPathComponent("hosts.ini"), atomically: true, encoding: .utf8)
        try "p: all_file\nq: all_file\n".write(
            to: folder.appendingPathComponent("group_vars/all.yml"), atomically: true, encoding: .utf8)
        try "fleetcmd_port: 4000\n".write(
            to: folder.appendingPathComponent("group_vars/web/a.yaml"), atomically: true, encoding: .utf8)
        try "{\"fleetcmd_port\": 4001}".write(
            to: folder.appendingPathComponent("host_vars/w2.json"), atomically: true, encoding: .utf8)
        let inventory = try Inventory.load(sources: [folder.appendingPathComponent("hosts.ini").path])
        // group_vars/all beats [web:vars] (Ansible's order: all inventory groups, then group_vars files).
        #expect(try inventory.host(named: "w1")?.values["p"] == .string("all_file"))
        #expect(try ep(inventory, "w1", 1) == "w1:4000")
        #expect(try ep(inventory, "w2", 1) == "w2:4001")
        // The folder itself as the source, and a comma list beside it.
        let both = try Inventory.load(sources: [folder.path, "extra1,extra2:2222,"])
        #expect(both.hostNames == ["w1", "w2", "extra1", "extra2"])
        #expect(try ep(both, "extra2", 1) == "extra2:2222")
    }

    @Test func shardsSplitTheFleetExactlyOnce() throws {
        let inventory = try Inventory.parse("[all]\ndev[0001:5000]\n")
        var seen = Set<String>()
        var sizes: [Int] = []
        for shard in 0..<4 {
            let part = inventory.hostNames.filter { Inventory.Host(name: $0).shard(of: 4) == shard }
            sizes.append(part.count)
            for name in part { #expect(seen.insert(name).inserted) }
        }
        #expect(seen.count == 5000)
        #expect(sizes.allSatisfy { (1100...1400).contains($0) })
    }
}

@Suite struct InventoryFuzzRegressionTests {
    /// Found by FleetParsersFuzz: a base-60 YAML integer that overflows trapped inside Yams.
    @Test func anOverflowingBase60ValueIsTextNotACrash() throws {
        // Not YAML inventory (a scalar), so INI, as Ansible: one host of that name.
        #expect(
            try Inventory.parse("5:25:27:5:5:5:5:7:5:5:5:5:5\n", path: "x.json").hostNames == [
                "5:25:27:5:5:5:5:7:5:5:5:5:5"
            ])
        let inventory = try Inventory.parse(
            "all:\n  hosts:\n    h1: {mac: 5:25:27:5:5:5:5:7:5:5:5:5:5}\n", path: "y.yml")
        // PyYAML makes it a big integer; fleetcmd keeps the text (an Int cannot hold it).
        #expect(try inventory.host(named: "h1")?.values["mac"] == .string("5:25:27:5:5:5:5:7:5:5:5:5:5"))
    }
}

extension InventoryFuzzRegressionTests {
    /// Found by FleetParsersFuzz: 49 bytes standing for 1.5 billion hosts were expanded before being refused.
    @Test func aRangeLineStandingForBillionsIsRefusedBeforeAnyNameIsMade() {
        #expect {
            _ = try Inventory.parse("[g]\nh[:9][:4][:4][:99][:4][:4][:94][:4][:9]4\n", path: "r.ini")
        } throws: { error in
            (error as? InventoryError)?.description
                == "r.ini:2: 'h[:9][:4][:4][:99][:4][:4][:94][:4][:9]4' stands for more than 10000000 hosts"
        }
    }

    @Test func rangesCombineAsPythonExpandsThem() throws {
        let inventory = try Inventory.parse("[g]\nk[1:2]x[a:b]\nn[5:1:-1]\nz[a:c:-1]\n", path: "c.ini")
        // as ansible-core prints them
        #expect(inventory.hostNames == ["k1xa", "k1xb", "k2xa", "k2xb", "n5", "n4", "n3"])
    }
}
