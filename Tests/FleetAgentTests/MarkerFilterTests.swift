import Testing

@testable import FleetAgent

@Suite struct MarkerFilterTests {
    private let uel = Array("\u{1B}%-12345X".utf8)

    /// Every way of cutting the manual's example job in two, and byte by byte, gives the same pieces.
    @Test func theManualsJobGivesItsLinesAndTwoMarkersWhereverTheChunksEnd() {
        let job = uel + Array("@PJL\r\n@PJL INFO ID\r\n".utf8) + uel
        let cuts = (0...job.count).map { [Array(job[..<$0]), Array(job[$0...])] } + [job.map { [$0] }]
        for chunks in cuts {
            var filter = MarkerFilter(marker: uel)
            var bytes: [UInt8] = []
            var order: [String] = []
            for chunk in chunks {
                for piece in filter.filter(chunk) {
                    switch piece {
                    case .bytes(let some):
                        bytes += some
                        if order.last != "bytes" { order.append("bytes") }
                    case .marker: order.append("marker")
                    }
                }
            }
            bytes += filter.flush()
            #expect(bytes == Array("@PJL\r\n@PJL INFO ID\r\n".utf8))
            #expect(order == ["marker", "bytes", "marker"])
        }
    }

    @Test func aPartialMarkerAtTheEndIsPassedOnAtFlush() {
        var filter = MarkerFilter(marker: uel)
        #expect(filter.filter(Array("ab\u{1B}%-12".utf8)) == [.bytes(Array("ab".utf8))])
        #expect(filter.flush() == Array("\u{1B}%-12".utf8))
        #expect(filter.filter(Array("\u{1B}x".utf8)) == [.bytes(Array("\u{1B}x".utf8))])
    }
}
