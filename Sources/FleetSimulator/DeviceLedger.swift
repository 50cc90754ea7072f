import NIOConcurrencyHelpers

/// Ground truth for tests: per device, the connections it accepted and the commands it received and answered.
///
/// A reply counts as sent once all of its bytes, terminator included, were handed to the socket; replies a fault
/// swallows, cuts or leaves unterminated are not counted.
public final class DeviceLedger: Sendable {
    /// One device's counters.
    public struct Counters: Sendable, Hashable, Codable {
        /// Connections accepted (including those a single-session device turned away).
        public var connections = 0
        /// Command frames received.
        public var received = 0
        /// Replies sent whole.
        public var replied = 0

        public init(connections: Int = 0, received: Int = 0, replied: Int = 0) {
            self.connections = connections
            self.received = received
            self.replied = replied
        }
    }

    private struct Table {
        var counters: [Counters]
        var open: [Int32]
        var state: [Int: [String: String]] = [:]
    }

    private let table: NIOLockedValueBox<Table>

    init(count: Int) {
        table = NIOLockedValueBox(
            Table(counters: Array(repeating: Counters(), count: count), open: Array(repeating: 0, count: count)))
    }

    /// The counters of device `index` (0-based within this ledger).
    public func counters(_ index: Int) -> Counters { table.withLockedValue { $0.counters[index] } }

    /// Every device's counters.
    public var all: [Counters] { table.withLockedValue { $0.counters } }

    /// Counts a new connection; returns how many are open now, this one included.
    func opened(_ index: Int) -> Int32 {
        table.withLockedValue { table in
            table.counters[index].connections += 1
            table.open[index] += 1
            return table.open[index]
        }
    }

    func closed(_ index: Int) { table.withLockedValue { $0.open[index] -= 1 } }

    func received(_ index: Int, count: Int = 1) {
        guard count > 0 else { return }
        table.withLockedValue { $0.counters[index].received += count }
    }

    func replied(_ index: Int, count: Int) {
        guard count > 0 else { return }
        table.withLockedValue { $0.counters[index].replied += count }
    }

    /// Runs `body` on device `index`'s key–value state.
    func withState<T>(_ index: Int, _ body: (inout [String: String]) -> T) -> T {
        table.withLockedValue { table in body(&table.state[index, default: [:]]) }
    }
}
