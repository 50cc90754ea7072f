import FleetInventory
import Foundation
import Testing

func ep(_ inventory: Inventory, _ name: String, _ defaultPort: Int) -> String? {
    inventory.host(named: name).map { host in
        let endpoint = host.endpoint(defaultPort: defaultPort)
        return "\(endpoint.host):\(endpoint.port.map(String.init) ?? "-")"
    }
}

@Suite struct InventoryTests {
    @Test func readsAnsibleINIWithRangesChildrenAndVariables() throws {
        let inventory = try Inventory.parse(
            """
            # printers and projectors
            loose.example:9200

            [printers]
            prn[01:03] fleetcmd_preset=pjl
            prn-lobby ansible_host=10.0.0.9 fleetcmd_port=9101   # the one by the door

            [projectors]
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
            inventory.hosts.map(\.name) == [
                "loose.example", "prn01", "prn02", "prn03", "prn-lobby", "proja", "projb", "projc",
            ])
        #expect(ep(inventory, "loose.example", 1) == "loose.example:9200")
        #expect(ep(inventory, "prn02", 1) == "prn02:9100")
        #expect(inventory.host(named: "prn02")?.preset == "pjl")
        #expect(ep(inventory, "prn-lobby", 1) == "10.0.0.9:9101")
        // A child group's variables win over all's; quotes are taken off.
        #expect(ep(inventory, "projb", 1) == "projb:4352")
        #expect(inventory.host(named: "projb")?.variables["site"] == "Main hall")
        #expect(inventory.host(named: "projb")?.groups == ["av", "projectors"])
        #expect(inventory.hostNames(inGroup: "av") == ["proja", "projb", "projc"])
        #expect(inventory.hostNames(inGroup: "ungrouped") == ["loose.example"])
    }

    @Test func readsAnsibleYAML() throws {
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
                  vars:
                    device_port: 9101
                lab:
                  children:
                    printers:
                  hosts:
                    bench: {ansible_host: 127.0.0.1, fleetcmd_port: 19000}
            """, path: "fleet.yaml")
        #expect(inventory.hosts.map(\.name) == ["edge1", "prn001", "prn004", "prn007", "prn010", "bench"])
        #expect(inventory.host(named: "prn004")?.preset == "line")
        // fleetcmd_port (from all) is looked at before device_port (from printers).
        #expect(ep(inventory, "prn004", 1) == "prn004:9100")
        #expect(ep(inventory, "bench", 1) == "127.0.0.1:19000")
        #expect(inventory.hostNames(inGroup: "lab") == ["bench", "prn001", "prn004", "prn007", "prn010"])
    }

    @Test func plainListsAreINI() throws {
        let inventory = try Inventory.parse("10.0.0.1\n10.0.0.2:9101\n[::1]:9102\n\n# done\n")
        #expect(inventory.hosts.map(\.name) == ["10.0.0.1", "10.0.0.2", "::1"])
        #expect(ep(inventory, "::1", 9100) == "::1:9102")
        #expect(ep(inventory, "10.0.0.1", 9100) == "10.0.0.1:9100")
    }

    @Test func errorsNameTheFileAndLine() {
        #expect(throws: InventoryError.self) { try Inventory.parse("[printers]\nprn[05:01]\n", path: "a.ini") }
        do {
            _ = try Inventory.parse("[printers]\nprn1\n[printers:stuff]\n", path: "a.ini")
        } catch {
            #expect(error.description == "a.ini:3: unknown section type ':stuff' (expected :vars or :children)")
        }
        do {
            _ = try Inventory.parse("all:\n  hosts:\n    a:\n  hostz:\n    b:\n", path: "f.yaml")
        } catch {
            #expect(error.description.hasPrefix("f.yaml:4: unknown key 'hostz'"))
        }
        do {
            _ = try Inventory.parse("[g]\nh1 port\n", path: "b.ini")
        } catch {
            #expect(error.line == 2)
        }
    }

    @Test func limitPatternsFollowAnsible() throws {
        let inventory = try Inventory.parse(
            "[web]\nweb[1:4]\n[db]\ndb1\nweb4\n[lab]\nweb1\ndb1\n", path: "x.ini")
        func names(_ pattern: String) throws -> [String] {
            try HostPattern(pattern).select(from: inventory).map(\.name)
        }
        #expect(try names("all") == ["web1", "web2", "web3", "web4", "db1"])
        #expect(try names("web:db") == ["web1", "web2", "web3", "web4", "db1"])
        #expect(try names("web:&lab") == ["web1"])
        #expect(try names("web:!db") == ["web1", "web2", "web3"])
        #expect(try names("!db") == ["web1", "web2", "web3"])
        #expect(try names("web[2:3]") == ["web2", "web3"])
        #expect(try names("w*:!web1") == ["web2", "web3", "web4"])
        #expect(try names("~db\\d") == ["db1"])
        #expect(try names("web[13]") == ["web1", "web3"])
        #expect(try names("web[!13]") == ["web2", "web4"])
        #expect(try names("we?[2-3]") == ["web2", "web3"])
        #expect(try names("db1,web2") == ["web2", "db1"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("limit-\(UUID()).txt")
        try "web3\n# comment\ndb\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(try names("@\(file.path)") == ["web3", "web4", "db1"])
        #expect(throws: InventoryError.self) { try names("nosuch") }
    }

    @Test func shardsSplitTheFleetExactlyOnce() throws {
        let inventory = try Inventory.parse("[all]\ndev[0001:5000]\n")
        var seen = Set<String>()
        var sizes: [Int] = []
        for shard in 0..<4 {
            let part = inventory.hosts.filter { $0.shard(of: 4) == shard }.map(\.name)
            sizes.append(part.count)
            for name in part { #expect(seen.insert(name).inserted) }
        }
        #expect(seen.count == 5000)
        #expect(sizes.allSatisfy { (1100...1400).contains($0) })
    }
}
