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
        // Integrations (issue 15), each its own product so RealtimeIO keeps its small closure:
        // completions on a SwiftNIO EventLoop, and the workers' counters through swift-metrics.
        .library(name: "RealtimeIONIO", targets: ["RealtimeIONIO"]),
        .library(name: "RealtimeIOMetrics", targets: ["RealtimeIOMetrics"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // `swift package generate-documentation --target RealtimeIO` (the DocC catalog); build-time only.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
        // Integrations: swift-log (no dependencies of its own) is the only one RealtimeIO uses;
        // swift-metrics for RealtimeIOMetrics; swift-prometheus for its example and rtio-admin metrics.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
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
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // MARK: integrations (issue 15)
        // Completions delivered on a SwiftNIO EventLoop (futures or a callback).
        .target(
            name: "RealtimeIONIO",
            dependencies: [
                "RealtimeIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // The workers' counters and latency histograms published through swift-metrics.
        .target(
            name: "RealtimeIOMetrics",
            dependencies: ["RealtimeIO", .product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // Examples, built with the tests (which run them).
        .executableTarget(
            name: "rtio-example-nio",
            dependencies: [
                "RealtimeIO", "RealtimeIONIO",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Examples/nio-event-loop",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .executableTarget(
            name: "rtio-example-prometheus",
            dependencies: [
                "RealtimeIO", "RealtimeIOMetrics",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Examples/prometheus",
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        // MARK: end of integrations
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
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
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
                // integrations (issue 15)
                "RealtimeIONIO",
                "RealtimeIOMetrics",
                "rtio-example-nio",
                "rtio-example-prometheus",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
