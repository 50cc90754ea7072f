/// `host:port` as every message, log line, result and record writes an address: an IPv6 literal in brackets
/// (`[::1]:9100`), anything else as it stands (`10.0.0.7:9100`, `printer-3.lab:9100`).
public enum HostPort {
    public static func text(_ host: String, _ port: Int) -> String {
        // Bytes, not characters: asked for every device of a run, and `String.contains(Character)` breaks the
        // host into grapheme clusters first (and `utf8.contains` went through protocol witnesses).
        for byte in host.utf8 where byte == UInt8(ascii: ":") { return "[\(host)]:\(port)" }
        return "\(host):\(port)"
    }
}
