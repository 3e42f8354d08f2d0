// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug))
]

let package = Package(
    name: "sensync",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SENSync", targets: ["SENSync"]),
        .executable(name: "sensync", targets: ["sensync"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        .systemLibrary(
            name: "CSENSyncZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "SENSync",
            dependencies: [
                "CSENSyncZlib",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "SENSyncCommands",
            dependencies: [
                "SENSync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "sensync", dependencies: ["SENSyncCommands"]),
        .executableTarget(
            name: "sensync-bench",
            dependencies: [
                "SENSync",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tools/sensync-bench"
        ),
        .executableTarget(
            name: "generate-fixtures",
            dependencies: ["SENSync"],
            path: "Tools/generate-fixtures"
        ),
        .executableTarget(
            name: "dump-schema",
            dependencies: ["SENSync"],
            path: "Tools/dump-schema"
        ),
        .testTarget(
            name: "SENSyncTests",
            dependencies: ["SENSync"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SENSyncCommandsTests",
            dependencies: ["SENSyncCommands", "SENSync"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
