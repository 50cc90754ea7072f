/// Deadlines in time order (a binary min-heap) for the epoll path's conversations; an entry that no longer
/// matches its conversation's armed deadline is skipped when it comes up.
struct DeadlineHeap {
    struct Entry {
        var deadline: ContinuousClock.Instant
        var slot: Int
        var serial: UInt64
    }

    private var items: [Entry] = []

    var peek: Entry? { items.first }

    var count: Int { items.count }

    mutating func push(_ entry: Entry) {
        items.append(entry)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let popped = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
            if smallest == parent { return popped }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
