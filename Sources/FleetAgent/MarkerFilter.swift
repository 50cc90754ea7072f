/// Takes a marker (HP PJL's UEL) out of a byte stream that arrives in chunks, keeping its place: a marker split
/// across chunks is found, and bytes that might begin one are held back until the next chunk tells.
///
/// ```
/// marker "UEL"   chunks "aUE" "Lb"   ->   .bytes("a")   .marker .bytes("b")
/// ```
struct MarkerFilter {
    enum Piece: Equatable {
        case bytes([UInt8])
        case marker
    }

    let marker: [UInt8]
    /// The tail of the previous chunk that is a proper prefix of the marker.
    private var held: [UInt8] = []

    init(marker: [UInt8]) {
        precondition(!marker.isEmpty, "a marker has at least one byte")
        self.marker = marker
    }

    /// The chunk's bytes and markers, in order.
    mutating func filter(_ chunk: some Collection<UInt8>) -> [Piece] {
        let bytes = held + chunk
        held = []
        var pieces: [Piece] = []
        var start = 0
        var index = 0
        while index < bytes.count {
            guard bytes[index] == marker[0] else {
                index += 1
                continue
            }
            let available = min(marker.count, bytes.count - index)
            guard bytes[index..<(index + available)].elementsEqual(marker[0..<available]) else {
                index += 1
                continue
            }
            if available < marker.count {
                // The chunk ends inside what may be a marker: keep it for the next chunk.
                held = Array(bytes[index...])
                break
            }
            if start < index { pieces.append(.bytes(Array(bytes[start..<index]))) }
            pieces.append(.marker)
            index += marker.count
            start = index
        }
        let end = bytes.count - held.count
        if start < end { pieces.append(.bytes(Array(bytes[start..<end]))) }
        return pieces
    }

    /// The bytes held back, at the end of the stream (they were not a marker).
    mutating func flush() -> [UInt8] {
        defer { held = [] }
        return held
    }
}
