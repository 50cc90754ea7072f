import ArgumentParser
import FleetFraming

/// `-v`: what the device said before the first command (`send`, `shell`, `watch`).
struct SessionDisplayOptions: ParsableArguments {
    @Flag(
        name: .shortAndLong,
        help: "Show the device's session on stderr: its greeting (an Extron banner, a PJLink greeting line).")
    var verbose = false

    /// With `-v`, the greeting's lines on stderr, each as `DEVICE: greeting: TEXT`.
    func showGreeting(_ greeting: [[UInt8]], device: String) {
        Self.showGreeting(greeting, device: device, verbose: verbose)
    }

    static func showGreeting(_ greeting: [[UInt8]], device: String, verbose: Bool) {
        guard verbose else { return }
        for line in greeting { Console.error("\(device): greeting: \(ByteEscapes.render(line))") }
    }
}
