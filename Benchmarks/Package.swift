// swift-tools-version:6.2
// The benchmark suite lives in its own package (as swift-nio does) so that users who depend on
// SparseGlue never resolve or build package-benchmark. Run from this folder:
//   swift package --disable-sandbox benchmark
import PackageDescription

let package = Package(
    name: "SparseGlueBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "SparseGlue", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"]),
    ],
    targets: ["KNN", "Graphs", "Attention", "Fusion", "Matcher"].map { name in
        .executableTarget(
            name: "\(name)Benchmarks",
            dependencies: [
                .product(name: "SparseGlue", package: "SparseGlue"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/\(name)",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    }
)
