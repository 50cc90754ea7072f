// swift-tools-version:6.1
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "fleetcmd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fleetcmd", targets: ["fleetcmd"]),
        .library(name: "FleetFraming", targets: ["FleetFraming"]),
        .library(name: "FleetCodec", targets: ["FleetCodec"]),
        .library(name: "FleetClient", targets: ["FleetClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // The framing core: no dependency at all, not even Foundation, so it can be fuzzed and reused.
        .target(
            name: "FleetFraming",
            swiftSettings: upcoming,
            // Double rounding calls into libm, which Foundation would otherwise drag in.
            linkerSettings: [.linkedLibrary("m", .when(platforms: [.linux]))]
        ),
        .target(
            name: "FleetCodec",
            dependencies: ["FleetFraming", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: upcoming
        ),
        .target(
            name: "FleetClient",
            dependencies: [
                "FleetCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "FleetCLI",
            dependencies: [
                "FleetClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(name: "fleetcmd", dependencies: ["FleetCLI"], swiftSettings: upcoming),
        // libFuzzer entry point: `swift build --sanitize fuzzer --product FleetFramingFuzz`.
        .executableTarget(name: "FleetFramingFuzz", dependencies: ["FleetFraming"], swiftSettings: upcoming),
        .target(
            name: "FleetTestSupport",
            dependencies: [
                "FleetCodec",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/FleetTestSupport",
            swiftSettings: upcoming
        ),
        .testTarget(name: "FleetFramingTests", dependencies: ["FleetFraming"], swiftSettings: upcoming),
        .testTarget(
            name: "FleetCodecTests",
            dependencies: [
                "FleetCodec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FleetClientTests",
            dependencies: [
                "FleetClient", "FleetTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FleetCLITests",
            dependencies: [
                "fleetcmd", "FleetTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
    ]
)
