/// A non-negative number's decimal digits written into raw memory, without making a `String`: the hot path of log
/// and audit lines.
public enum DecimalDigits {
    /// The most digits ``write(_:to:)`` writes (a positive `Int64` has at most 19).
    public static let maxCount = 19

    /// Writes `value`'s decimal digits at `base` (`0` for zero and for a negative value).
    /// - Returns: how many bytes were written.
    public static func write(_ value: Int64, to base: UnsafeMutableRawPointer) -> Int {
        guard value > 0 else {
            base.storeBytes(of: UInt8(ascii: "0"), as: UInt8.self)
            return 1
        }
        var digits = 0
        var rest = value
        while rest > 0 {
            digits += 1
            rest /= 10
        }
        rest = value
        var position = digits
        while position > 0 {
            position -= 1
            base.storeBytes(of: UInt8(ascii: "0") + UInt8(rest % 10), toByteOffset: position, as: UInt8.self)
            rest /= 10
        }
        return digits
    }
}
