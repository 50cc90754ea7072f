/// Tells a TLS record from a device's reply: what a plaintext connection receives from a port that speaks TLS
/// (its alert, or a handshake record) starts with a record header.
///
/// ```
/// 15 03 01 00 02 02 46    alert record, TLS 1.0 header: the device speaks TLS
/// 16 03 03 …              handshake record, TLS 1.2 header
/// 4f 4b 00                "OK" NUL: a device's reply
/// ```
public enum TLSRecordSniffer {
    /// The text for a plaintext exchange that got a TLS record back.
    public static let message = "the device speaks TLS on this port; add --tls"

    /// Whether the first three bytes a plaintext connection received start a TLS alert or handshake record header
    /// (content type 21 or 22, version 3.0 to 3.4). Fewer than three bytes are never taken for TLS: the caller
    /// waits for three (read straight from the buffer, with no collection made or iterated per device).
    public static func looksLikeTLS(type: UInt8, major: UInt8, minor: UInt8) -> Bool {
        (type == 0x15 || type == 0x16) && major == 0x03 && minor <= 0x04
    }
}
