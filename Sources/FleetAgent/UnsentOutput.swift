import NIOCore

/// What the kernel still holds of a TCP connection's output: bytes not yet sent (the peer's window is shut) and
/// segments sent but not yet acknowledged, from Linux's `TCP_INFO`.
///
/// Read through NIO's `SocketOptionProvider` into a buffer of raw bytes, since Glibc's `struct tcp_info` stops
/// before `tcpi_notsent_bytes`. The kernel fills as much of its own (longer) structure as the buffer holds, and
/// only ever appends fields, so the offsets below are fixed (from `<linux/tcp.h>`).
enum UnsentOutput {
    /// A buffer for the first 240 bytes of the kernel's `struct tcp_info` (232 bytes on Linux 6).
    struct TCPInfoBytes: Sendable {
        var words = InlineArray<30, UInt64>(repeating: 0)
    }

    static let unackedOffset = 24  // tcpi_unacked: UInt32, segments in flight
    static let notSentOffset = 144  // tcpi_notsent_bytes: UInt32, since Linux 4.6

    /// Unsent bytes plus unacknowledged segments (any non-zero value means the peer has not taken everything);
    /// 0 where `TCP_INFO` is unavailable.
    static func read(_ provider: any SocketOptionProvider) -> EventLoopFuture<Int> {
        #if os(Linux)
            // IPPROTO_TCP = 6, TCP_INFO = 11
            let info: EventLoopFuture<TCPInfoBytes> = provider.unsafeGetSocketOption(level: 6, name: 11)
            return info.map { count(in: $0) }
        #else
            return provider.eventLoop.makeSucceededFuture(0)
        #endif
    }

    static func count(in info: TCPInfoBytes) -> Int {
        withUnsafeBytes(of: info.words) { raw in
            Int(raw.loadUnaligned(fromByteOffset: notSentOffset, as: UInt32.self))
                + Int(raw.loadUnaligned(fromByteOffset: unackedOffset, as: UInt32.self))
        }
    }
}
