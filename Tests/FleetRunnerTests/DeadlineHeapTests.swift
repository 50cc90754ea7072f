import Testing

@testable import FleetRunner

@Suite struct DeadlineHeapTests {
    @Test func popsInDeadlineOrderWhateverThePushOrder() {
        let start = ContinuousClock.now
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            var heap = DeadlineHeap()
            let offsets = (0..<Int.random(in: 1...200, using: &generator)).map { _ in
                Int.random(in: 0...1000, using: &generator)
            }
            for (slot, offset) in offsets.enumerated() {
                heap.push(.init(deadline: start + .milliseconds(offset), slot: slot, serial: UInt64(slot)))
            }
            #expect(heap.count == offsets.count)
            var popped: [ContinuousClock.Instant] = []
            while let entry = heap.pop() { popped.append(entry.deadline) }
            #expect(popped == offsets.sorted().map { start + .milliseconds($0) })
            #expect(heap.peek == nil && heap.pop() == nil)
        }
    }

    @Test func peekIsTheEarliestAndEqualDeadlinesAllComeOut() {
        let start = ContinuousClock.now
        var heap = DeadlineHeap()
        for slot in 0..<5 { heap.push(.init(deadline: start + .seconds(1), slot: slot, serial: 1)) }
        heap.push(.init(deadline: start, slot: 9, serial: 2))
        #expect(heap.peek?.slot == 9)
        heap.pop()
        #expect(Set((0..<5).compactMap { _ in heap.pop()?.slot }) == Set(0..<5))
        #expect(heap.count == 0)
    }
}
