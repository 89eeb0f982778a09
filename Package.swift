// swift-tools-version:6.2
// 6.2+: a package whose targets use unsafeFlags (-fopenmp) can still be a versioned dependency.
import PackageDescription

// The C kernels need OpenMP (Debian's libomp-dev ships only libomp5.so, hence "omp5") and
// OpenBLAS (libopenblas-dev). scripts/setup installs both.
let kernelCFlags: [String] = ["-fopenmp", "-O3", "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter"]

let package = Package(
    name: "SparseGlue",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SparseGlue", targets: ["SparseGlue"]),
        .library(name: "CKernels", targets: ["CKernels"]),
        .executable(name: "sparseglue", targets: ["sparseglue"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CKernels",
            path: "CKernels",
            sources: ["src"],
            publicHeadersPath: "include",
            cSettings: [.unsafeFlags(kernelCFlags)],
            linkerSettings: [
                .linkedLibrary("openblas"),
                .linkedLibrary("omp5"),
                .linkedLibrary("m"),
            ]
        ),
        .target(
            name: "SparseGlue",
            dependencies: ["CKernels"],
            path: "Sources/SparseGlue"
        ),
        .executableTarget(
            name: "sparseglue",
            dependencies: [
                "SparseGlue",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/sparseglue"
        ),
        .testTarget(
            name: "CKernelsTests",
            dependencies: ["CKernels"],
            path: "Tests/CKernelsTests"
        ),
        .testTarget(
            name: "SparseGlueTests",
            dependencies: ["SparseGlue"],
            path: "Tests/SparseGlueTests",
            resources: [.copy("Fixtures")]
        ),
    ]
)
