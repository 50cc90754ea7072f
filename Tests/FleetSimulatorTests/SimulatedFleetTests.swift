import FleetAgent
import FleetClient
import FleetSimulator
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
private let blocks = Atomic<UInt32>(0)

/// A /24 (or bigger) block of 127/8 no other test in this process uses.
func freshBlock(prefix: Int = 24) -> (network: UInt32, prefix: Int) {
    let serial = blocks.add(1, ordering: .relaxed).newValue
    let pid = UInt32(ProcessInfo.processInfo.processIdentifier)
    // 127.(100 + …).(…).0: second octets 100–249 keep clear of 127.0.0.x and of the CLI's default 127.1/16.
    let second = 100 + (pid &+ serial &* 7) % 150
    let third = prefix <= 16 ? 0 : (pid / 150 &+ serial &* 13) % 256
    return ((127 << 24) | (second << 16) | (third << 8), prefix)
}

func layout(_ count: Int, prefix: Int = 24) throws -> FleetLayout {
    let block = freshBlock(prefix: prefix)
    return try FleetLayout(
        count: count, addressing: .addresses(network: block.network, prefix: block.prefix, port: 19100))
}

func address(_ layout: FleetLayout, _ number: Int) -> DeviceAddress {
    let (host, port) = layout.endpoint(number)
    return DeviceAddress(host: host, port: port)
}

let fastClient = DeviceClient(
    // latency and drip stay well inside it under a loaded test run
    configuration: .init(timeouts: .init(connect: .seconds(2), reply: .seconds(2))))

func profile(_ rules: [FaultRule]) -> SimulatorProfile { SimulatorProfile(faults: rules) }

func commands(_ texts: String...) -> [[UInt8]] { texts.map { Array($0.utf8) } }

@Suite struct SimulatedFleetTests {
    @Test func everyDeviceAnswersWithItsOwnIdentity() async throws {
        let layout = try layout(20)
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { fleet in
            for number in [1, 7, 20] {
                let exchange = await fastClient.exchange(commands("ID", "PING"), with: address(layout, number))
                #expect(exchange.error == nil)
                #expect(exchange.replies.map(\.text) == ["\(layout.name(number)) #\(number)", "PONG"])
            }
            let counters = fleet.ledger.counters(6)
            #expect(counters == .init(connections: 1, received: 2, replied: 2))
            #expect(fleet.ledger.counters(1).received == 0)
            #expect(fleet.stats().totals.replied == 6)
        }
    }

    @Test func stateIsPerDevice() async throws {
        let layout = try layout(3)
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { _ in
            let first = await fastClient.exchange(
                commands("SET color red", "GET color", "INCR n", "INCR n"), with: address(layout, 1))
            #expect(first.replies.map(\.text) == ["OK", "red", "1", "2"])
            let second = await fastClient.exchange(commands("GET color", "INCR n"), with: address(layout, 2))
            #expect(second.replies.map(\.text) == ["ERR no such key", "1"])
        }
    }

    @Test func sameSeedSameAssignment() throws {
        let rules = [FaultRule(fault: .refuse, rate: 0.1), FaultRule(fault: .garbage, rate: 0.2)]
        let a = FaultPlan(rules: rules, seed: 42, count: 5000)
        let b = FaultPlan(rules: rules, seed: 42, count: 5000)
        let c = FaultPlan(rules: rules, seed: 43, count: 5000)
        let faults = { (plan: FaultPlan) in (0..<5000).map { plan.fault(ofLocal: $0)?.kind ?? "-" } }
        #expect(faults(a) == faults(b))
        #expect(faults(a) != faults(c))
        // A device's draw does not depend on how the fleet is split between processes.
        let tail = FaultPlan(rules: rules, seed: 42, first: 3000, count: 2000)
        #expect((0..<2000).map { tail.fault(ofLocal: $0)?.kind ?? "-" } == Array(faults(a)[3000...]))
        // The rates hold roughly: 10 % refuse, then 20 % of the rest garbage.
        let refused = faults(a).filter { $0 == "refuse" }.count
        let garbage = faults(a).filter { $0 == "garbage" }.count
        #expect((400...600).contains(refused))
        #expect((800...1000).contains(garbage))
        // Listed devices get their fault whatever the rate.
        let listed = FaultPlan(rules: [FaultRule(fault: .neverReply, devices: [3...4])], seed: 1, count: 5)
        #expect((0..<5).map { listed.fault(ofLocal: $0) } == [nil, nil, .neverReply, .neverReply, nil])
    }

    @Test func tenThousandDevicesStartAnswerAndStop() async throws {
        let layout = try layout(10_000, prefix: 16)
        let began = ContinuousClock.now
        try await SimulatedFleet.withRunning(.init(layout: layout), logger: quiet) { fleet in
            // Every device answers, 200 at a time.
            let answered = await withTaskGroup(of: Bool.self) { group in
                var next = 1
                var good = 0
                func add() {
                    let number = next
                    next += 1
                    group.addTask {
                        let exchange = await fastClient.exchange(commands("ID"), with: address(layout, number))
                        return exchange.replies.first?.text == "\(layout.name(number)) #\(number)"
                    }
                }
                while next <= 200 { add() }
                for await ok in group {
                    if ok { good += 1 }
                    if next <= layout.count { add() }
                }
                return good
            }
            #expect(answered == 10_000)
            #expect(fleet.stats().totals == .init(connections: 10_000, received: 10_000, replied: 10_000))
        }
        // Stopped: nothing listens any more.
        let after = await fastClient.exchange(commands("PING"), with: address(layout, 5000))
        #expect(after.error?.code == .refused)
        #expect(ContinuousClock.now - began < .seconds(60))
    }
}
