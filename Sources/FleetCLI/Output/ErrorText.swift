import FleetAgent
import FleetCodec
import FleetFraming
import FleetSystemText
import FleetTLS
import Foundation
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// An error as one line for a user: TLS library errors as sentences, system call errors as their `strerror` text,
/// anything else without build paths. Library enum dumps never reach a message.
enum ErrorText {
    static func describe(_ error: any Error) -> String {
        if let failure = TLSFailure.fromLibraryError(error) { return failure.description }
        if let error = error as? IOError { return UserFacingText.systemReason(error.errnoCode) }
        if let failure = SocketAddressText.resolutionFailure(error) { return failure }
        if let error = error as? ListenerBindError {
            return "cannot listen on \(error.listener): \(describe(error.underlying))"
        }
        // Foundation's file errors print as "Error Domain=NSCocoaErrorDomain Code=513 …": the system's reason
        // instead (the caller names the file).
        if let reason = FoundationErrorReason.systemReason(of: error) { return reason }
        if let error = error as? CocoaError { return "file error \(error.code.rawValue)" }
        return UserFacingText.sanitized("\(error)")
    }
}
