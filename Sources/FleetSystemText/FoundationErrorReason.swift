import FleetFraming
import Foundation

/// The system's reason inside an error Foundation reports (`Process.run`, file reads), in
/// ``UserFacingText/systemReason(_:)``'s words (`exec format error`), never Foundation's sentence ("The operation
/// could not be completed"). Foundation keeps it either as the error itself (the POSIX domain) or beneath a Cocoa
/// error (`NSUnderlyingError`).
public enum FoundationErrorReason {
    /// `nil` when Foundation kept no system error code.
    public static func systemReason(of error: any Error) -> String? {
        posixCode(of: error).map(UserFacingText.systemReason)
    }

    public static func posixCode(of error: any Error) -> Int32? {
        let error = error as NSError
        if error.domain == NSPOSIXErrorDomain { return Int32(truncatingIfNeeded: error.code) }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError { return posixCode(of: underlying) }
        return nil
    }
}
