// swift-tools-version:6.1
// Benchmarks live in their own package so that the normal build and CI never compile them.
// Build: swift build -c release --package-path Benchmarks (scripts/bench-agent.sh does it).
import PackageDescription

let package = Package(
    name: "FleetBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "FleetBench",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        )
    ]
)
