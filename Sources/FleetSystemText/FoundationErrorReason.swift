import FleetFraming
import Foundation

/// The system's reason inside an error Foundation reports (file reads), in
/// ``UserFacingText/systemReason(_:)``'s words (`exec format error`), never Foundation's sentence ("The operation
/// could not be completed"). Foundation keeps it either as the error itself (the POSIX domain) or beneath a Cocoa
/// error (`NSUnderlyingError`).
public enum FoundationErrorReason {
    /// `nil` when Foundation kept no system error code.
    public static func systemReason(of error: any Error) -> String? {
        posixCode(of: error).map(UserFacingText.systemReason)
    }

    public static func posixCode(of error: any Error) -> Int32? {
        if let error = error as? POSIXError { return error.code.rawValue }
        let bridged = error as NSError
        if bridged.domain == NSPOSIXErrorDomain { return Int32(truncatingIfNeeded: bridged.code) }
        // Beneath: an NSError or a Swift error such as POSIXError (FileManager).
        if let underlying = bridged.userInfo[NSUnderlyingErrorKey] as? any Error { return posixCode(of: underlying) }
        return nil
    }
}
