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
        .library(name: "FleetTLS", targets: ["FleetTLS"]),
        .library(name: "FleetClient", targets: ["FleetClient"]),
        .library(name: "FleetAgent", targets: ["FleetAgent"]),
        .library(name: "FleetSimulator", targets: ["FleetSimulator"]),
        .library(name: "FleetInventory", targets: ["FleetInventory"]),
        .library(name: "FleetRunner", targets: ["FleetRunner"]),
        .library(name: "FleetStore", targets: ["FleetStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
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
            dependencies: [
                "FleetFraming", .product(name: "NIOCore", package: "swift-nio"),
                // MD5 for the PJLink login, which both sides of a device session compute.
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: upcoming
        ),
        // TLS for both sides: contexts, verification with precise failure reasons, pins, identities, a small CA.
        .target(
            name: "FleetTLS",
            dependencies: [
                "FleetFraming",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "FleetClient",
            dependencies: [
                "FleetCodec", "FleetTLS",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "FleetAgent",
            dependencies: [
                "FleetCodec", "FleetTLS", "FleetSystemText",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        // The system's reason inside a Foundation error (file reads), in the framing core's words,
        // and programs started with posix_spawn (exec routes, inventory scripts, simulator workers).
        .target(name: "FleetSystemText", dependencies: ["FleetFraming", "CFleetSpawn"], swiftSettings: upcoming),
        .target(name: "CFleetSpawn"),
        // How a YAML parse error reads in a message (every YAML file fleetcmd reads).
        .target(name: "FleetYAML", dependencies: [.product(name: "Yams", package: "Yams")], swiftSettings: upcoming),
        // The agent's YAML configuration file: kept apart so that embedding FleetAgent needs no YAML parser.
        .target(
            name: "FleetAgentConfig",
            dependencies: ["FleetAgent", "FleetTLS", "FleetYAML", .product(name: "Yams", package: "Yams")],
            swiftSettings: upcoming
        ),
        .target(
            name: "FleetInventory",
            dependencies: ["FleetFraming", "FleetSystemText", "FleetYAML", .product(name: "Yams", package: "Yams")],
            swiftSettings: upcoming
        ),
        // epoll and eventfd for the runner's lean fan-out path (Linux only; elsewhere the runner uses DeviceClient).
        .target(name: "CFleetSockets"),
        // The commit `fleetcmd --version` names (written by scripts/release.sh).
        .target(name: "CFleetBuildInfo"),
        // Closed standard descriptors taken before the runtime opens anything; SIGPIPE as the process found it.
        .target(name: "CFleetProcess"),
        .target(
            name: "FleetRunner",
            dependencies: [
                "FleetClient", "FleetInventory", "FleetTLS", "CFleetSockets",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        // The PostgreSQL run store: runs shared by many workers, with the journal's guarantees.
        .target(
            name: "FleetStore",
            dependencies: [
                "FleetRunner", "FleetClient",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "FleetSimulator",
            dependencies: [
                "FleetAgent", "FleetAgentConfig", "FleetSystemText",
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .target(
            name: "FleetCLI",
            dependencies: [
                "CFleetBuildInfo",
                "CFleetProcess",
                "FleetClient",
                "FleetTLS",
                "FleetAgent",
                "FleetAgentConfig",
                "FleetSimulator",
                "FleetInventory",
                "FleetRunner",
                "FleetStore",
                "FleetSystemText",
                "FleetYAML",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
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
        // libFuzzer entry point over the parsers of user files: inventories, patterns, agent config, presets, journal.
        .executableTarget(
            name: "FleetParsersFuzz",
            dependencies: ["FleetInventory", "FleetAgentConfig", "FleetRunner", "FleetCLI"],
            swiftSettings: upcoming),
        .target(
            name: "FleetTestSupport",
            dependencies: [
                "FleetCodec", "FleetSystemText",
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
                "FleetClient", "FleetTLS", "FleetFraming", "FleetTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FleetAgentConfigTests",
            dependencies: [
                "FleetAgent", "FleetAgentConfig", "FleetFraming", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FleetAgentTests",
            dependencies: [
                "FleetAgent", "FleetClient", "FleetCodec", "FleetTLS", "FleetTestSupport",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FleetTLSTests",
            dependencies: [
                "FleetTLS", "FleetClient", "FleetAgent", "FleetAgentConfig", "FleetRunner", "FleetTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(name: "FleetInventoryTests", dependencies: ["FleetInventory"], swiftSettings: upcoming),
        .testTarget(
            name: "FleetRunnerTests",
            dependencies: [
                "FleetRunner", "FleetInventory", "FleetSimulator", "FleetClient", "FleetTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FleetSimulatorTests",
            dependencies: [
                "FleetSimulator", "FleetAgent", "FleetAgentConfig", "FleetClient", "FleetTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "FleetCLITests",
            dependencies: [
                "fleetcmd", "FleetCLI", "FleetAgent", "FleetTestSupport", "FleetStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: upcoming
        ),
    ]
)
