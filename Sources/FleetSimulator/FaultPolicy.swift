import FleetAgent
import FleetFraming
import NIOCore

/// The simulator's faults as an agent ``ConnectionPolicy``: listener `i` is device `i` of this process.
struct FaultPolicy: ConnectionPolicy {
    let plan: FaultPlan
    let ledger: DeviceLedger
    let layout: FleetLayout
    /// The number of listener 0's device.
    let first: Int

    func variables(listener: Int) -> [String: String] {
        ["device": layout.name(first + listener), "index": String(first + listener)]
    }

    func admit(listener: Int) -> Admission {
        let open = ledger.opened(listener)
        switch plan.fault(ofLocal: listener) {
        case .singleSession where open > 1:
            ledger.closed(listener)
            return .close
        case .neverRead:
            return .neverRead
        default:
            return .serve
        }
    }

    func connectionClosed(listener: Int) { ledger.closed(listener) }

    func frameReceived(listener: Int) { ledger.received(listener) }

    /// Healthy devices (and faults that act at connect time) are answered on the agent's event-loop path.
    func usesDeliver(listener: Int) -> Bool {
        switch plan.fault(ofLocal: listener) {
        case nil, .refuse, .neverRead, .singleSession, .flapping, .latency: false
        default: true
        }
    }

    func replyDelay(listener: Int) -> Duration? {
        guard case .latency(let latency) = plan.fault(ofLocal: listener) else { return nil }
        var generator = SystemRandomNumberGenerator()
        return latency.sample(using: &generator)
    }

    func repliesDelivered(listener: Int, count: Int) { ledger.replied(listener, count: count) }

    func deliver(_ replies: [AgentReply], on connection: AgentConnection) async throws -> Bool {
        let device = connection.listener
        switch plan.fault(ofLocal: device) {
        case .neverReply:
            // Even after the client's FIN: a device that never answers does not close either (the idle timeout
            // does, eventually).
            await connection.closed()
            return false
        case .drip(let bytes, let every):
            var buffer = connection.framed(replies)
            while buffer.readableBytes > 0 {
                let piece = buffer.readSlice(length: min(bytes, buffer.readableBytes))!  // length checked
                try await connection.write(piece)
                if buffer.readableBytes > 0 { try await Task.sleep(for: every) }
            }
        case .resetMidReply:
            var buffer = connection.framed(replies)
            if let half = buffer.readSlice(length: buffer.readableBytes / 2) { try await connection.write(half) }
            try await Task.sleep(for: .milliseconds(20))  // let the half reach the client before the RST
            await connection.reset()
            return false
        case .closeBeforeTerminator:
            var buffer = connection.framed(Array(replies.prefix(1)))
            let cut = max(1, connection.format.reply.terminator?.count ?? 1)
            if let head = buffer.readSlice(length: max(0, buffer.readableBytes - cut)) {
                try await connection.write(head)
            }
            await connection.close()
            return false
        case .garbage:
            let terminator = Set(connection.format.reply.terminator ?? [])
            var generator = SystemRandomNumberGenerator()
            let junk = replies.map { _ in
                AgentReply(
                    payload: (0..<Int.random(in: 8...32, using: &generator)).map { _ in
                        var byte = UInt8.random(in: 0...255, using: &generator)
                        while terminator.contains(byte) { byte &+= 1 }
                        return byte
                    })
            }
            try await connection.writeFramed(junk)
        case .oversized(let bytes):
            var buffer = connection.allocator.buffer(capacity: 64 << 10)
            var left = bytes
            while left > 0 {
                buffer.clear()
                buffer.writeRepeatingByte(UInt8(ascii: "X"), count: min(left, 64 << 10))
                left -= buffer.readableBytes
                try await connection.write(buffer)
            }
            buffer.clear()
            buffer.writeBytes(connection.format.reply.terminator ?? [])
            try await connection.write(buffer)
        case .missingTerminator:
            var buffer = connection.allocator.buffer(capacity: 64)
            for reply in replies { buffer.writeBytes(reply.payload) }
            try await connection.write(buffer)
            await connection.closed()
            return false
        case .finIntolerant:
            if await connection.inputClosed(within: .milliseconds(50)) {
                await connection.close()
                return false
            }
            try await connection.writeFramed(replies)
        case .refuse, .neverRead, .singleSession, .flapping, .latency, nil:  // answered on the event loop
            try await connection.writeFramed(replies)
        }
        ledger.replied(device, count: replies.count)
        return true
    }
}
