import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The ways the agent ends a connection on its own initiative, in one place: after a timeout (reset if the peer
/// has not taken its replies) and after an error reply to input it will not read (a lingering close).
enum ConnectionClosing {
    /// Closes a connection that timed out (idle, or a frame left unfinished). One whose replies the peer has not
    /// taken (output NIO holds back, or bytes the kernel has not sent or not had acknowledged) is reset, as
    /// nginx's `reset_timedout_connection` does: a FIN would wait behind megabytes of unsent replies, in the
    /// kernel, for as long as the peer keeps its window shut, and the peer would never see the close.
    static func timedOut(_ channel: any Channel) {
        guard let options = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        let held = !channel.isWritable
        UnsentOutput.read(options).whenComplete { result in
            let unsent = (try? result.get()) ?? 0
            guard held || unsent > 0 else {
                channel.close(promise: nil)
                return
            }
            options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    /// As nginx's lingering close: FIN after the error reply, then keep discarding input until the client closes
    /// or `grace` passes, so that the kernel does not answer unread input with a RST that destroys the reply.
    /// The caller keeps reading and discarding.
    static func lingering(_ channel: any Channel, grace: TimeAmount = .seconds(2)) {
        channel.close(mode: .output, promise: nil)
        let deadline = channel.eventLoop.scheduleTask(in: grace) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in deadline.cancel() }
    }
}
