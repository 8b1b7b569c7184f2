// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "RealtimeIO",
    products: [
        .library(name: "RealtimeIO", targets: ["RealtimeIO"]),
        // C ABI: librealtimeio.so + include/realtimeio.h
        .library(name: "realtimeio", type: .dynamic, targets: ["RealtimeIOC"]),
        // POSIX AIO drop-in for LD_PRELOAD: librtio-aio.so
        .library(name: "rtio-aio", type: .dynamic, targets: ["RealtimeIOAIO"]),
        .executable(name: "rtio-bench", targets: ["rtio-bench"]),
        .executable(name: "rtio-admin", targets: ["rtio-admin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The only C in the project: thin wrappers over syscalls and macros Swift cannot reach.
        .target(name: "CRealtimeIOShims"),
        // libcap, found through pkg-config; `tools/setup` installs libcap-dev.
        .systemLibrary(
            name: "CLibcap",
            pkgConfig: "libcap",
            providers: [.apt(["libcap-dev"])]
        ),
        // The typed Linux layer (swift-system style): kernel files, /proc stat, scheduling,
        // affinity, thread creation, eventfd, signal masks, the EINTR retry.
        .target(
            name: "RealtimeIOLinux",
            dependencies: [
                "CRealtimeIOShims",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Readiness checks, file capabilities, status-file listing: rtio-admin's, not the engine's.
        .target(
            name: "RealtimeIODiagnostics",
            dependencies: [
                "RealtimeIO",
                "RealtimeIOLinux",
                "CLibcap",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "RealtimeIO",
            dependencies: [
                "RealtimeIOLinux",
                "CRealtimeIOShims",
                "CLibcap",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "RealtimeIOC",
            dependencies: ["RealtimeIO", "RealtimeIOLinux", "CRealtimeIOShims", .product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/RealtimeIOC",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "RealtimeIOAIO",
            dependencies: ["RealtimeIO", "RealtimeIOLinux", "CRealtimeIOShims", .product(name: "SystemPackage", package: "swift-system")],
            path: "Sources/RealtimeIOAIO",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "rtio-bench",
            dependencies: [
                "RealtimeIO",
                "RealtimeIOLinux",
                "CRealtimeIOShims",
                "CMallocCounter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                "PrePatchBaseline",
                "CLiburingShim",
            ],
            path: "tools/rtio-bench",
            exclude: ["PrePatchBaseline", "CLiburing", "CLiburingShim"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // liburing for the benchmark's io_uring-async/io_uring-sqpoll engines only (never the
        // library), found through pkg-config; `tools/setup` installs liburing-dev.
        .systemLibrary(
            name: "CLiburing",
            path: "tools/rtio-bench/CLiburing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        // The opaque C API rtio-bench calls (liburing's own io_uring.h clashes with swift-system's).
        .target(name: "CLiburingShim", dependencies: ["CLiburing"], path: "tools/rtio-bench/CLiburingShim"),
        // The benchmark's deliberately buggy baseline (QEMU's pool before its 2011 fix),
        // a library so that tests can check it reproduces the bug. Never used by the engine.
        .target(
            name: "PrePatchBaseline",
            dependencies: ["RealtimeIO", "RealtimeIOLinux", "CRealtimeIOShims", .product(name: "SystemPackage", package: "swift-system")],
            path: "tools/rtio-bench/PrePatchBaseline",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "rtio-admin",
            dependencies: [
                "RealtimeIO",
                "RealtimeIOLinux",
                "RealtimeIODiagnostics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/rtio-admin",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Measurement-only C (tests and rtio-bench, never the library): malloc and
        // pthread_create interposers that count heap allocations and thread creations
        // per calling thread and for opted-in threads.
        .target(name: "CMallocCounter"),
        // A host process with an engine, driven by the tests (unprivileged runs, rtio-admin).
        .executableTarget(
            name: "rtio-testhost",
            dependencies: ["RealtimeIO", "RealtimeIOLinux", "CMallocCounter", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/rtio-testhost",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .testTarget(
            name: "RealtimeIOTests",
            dependencies: [
                "RealtimeIO",
                "RealtimeIOLinux",
                "RealtimeIODiagnostics",
                "rtio-testhost",
                "rtio-admin",
                "CRealtimeIOShims",
                "CMallocCounter",
                "PrePatchBaseline",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
