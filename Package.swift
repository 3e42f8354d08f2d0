// swift-tools-version:6.2
import PackageDescription

/// Our own targets build with warnings as errors; dependencies are left alone.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

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
        // CSV reading (streaming, RFC 4180 quoting) and writing, rather than a parser of our own.
        .package(url: "https://github.com/yaslab/CSV.swift.git", from: "2.5.2"),
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
                .product(name: "CSV", package: "CSV.swift"),
            ],
            // Code lists (`Schemas/codes` links here): versioned data, loaded at run time.
            resources: [.copy("Codes")],
            swiftSettings: strict
        ),
        .target(
            name: "SENSyncCommands",
            dependencies: [
                "SENSync",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "sensync", dependencies: ["SENSyncCommands"], swiftSettings: strict),
        .executableTarget(
            name: "sensync-bench",
            dependencies: [
                "SENSync",
                "CSENSyncZlib",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CSV", package: "CSV.swift"),
            ],
            path: "Tools/sensync-bench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sensync-schema",
            dependencies: ["SENSync"],
            path: "Tools/sensync-schema",
            swiftSettings: strict
        ),
        // Fuzz targets for every decoder of outside bytes. A plain build replays inputs
        // (`sensync-fuzz replay TARGET PATH...`); `Tools/fuzz.sh` builds it with `-DSENSYNC_FUZZ
        // -sanitize=fuzzer` into its own scratch path, where libFuzzer supplies `main`.
        .executableTarget(
            name: "sensync-fuzz",
            dependencies: ["SENSync"],
            path: "Tools/sensync-fuzz",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SENSyncTests",
            dependencies: ["SENSync"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SENSyncCommandsTests",
            dependencies: [
                "SENSyncCommands", "SENSync", "sensync", "sensync-fuzz",
                // To read stores and hash files directly when checking what a command left behind.
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
