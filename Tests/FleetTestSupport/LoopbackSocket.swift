import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP socket bound to 127.0.0.1 on a port the system picks, not listening yet (``ClosedPort`` keeps it so,
/// ``BlackHoleListener`` listens on it).
enum LoopbackSocket {
    /// The socket, its address and its port.
    static func bound() throws -> (descriptor: Int32, address: sockaddr_in, port: Int) {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        let named =
            bound == 0
            ? withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            } : -1
        guard named == 0 else {
            let code = errno
            close(descriptor)
            throw IOError(errnoCode: code, reason: bound == 0 ? "getsockname" : "bind")
        }
        return (descriptor, address, Int(UInt16(bigEndian: address.sin_port)))
    }
}
