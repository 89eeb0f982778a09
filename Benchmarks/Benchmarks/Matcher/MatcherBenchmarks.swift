import Benchmark
import Foundation
import SparseGlue

/// The pretrained LightGlue matcher on the shipped DISK samples: dense and the recommended sparse
/// variant, adaptivity off and on. Inputs as `sparseglue bench --matcher` (n ≤ 1024: the first n
/// keypoints of samples/sacre_coeur; 2048: sacre_coeur ‖ dsc_0410_0411 side by side). Weights from
/// $SPARSEGLUE_WEIGHTS or ~/.cache/sparseglue/disk_lightglue.safetensors (scripts/fetch-weights).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(5), maxIterations: 10)

    for n in [512, 1024, 2048] {
        for adaptive in [false, true] {
            for sparse in [false, true] {
                let name = "lightglue \(sparse ? "sparse" : "dense") n=\(n) \(adaptive ? "adaptive" : "off")"
                Benchmark(name) { benchmark, input in
                    for _ in benchmark.scaledIterations { blackHole(try input.matcher.match(input.a, input.b)) }
                } setup: { try MatcherInput(n: n, adaptive: adaptive, sparse: sparse) }
            }
        }
    }
}

struct MatcherInput {
    let matcher: LightGlue
    let a: LightGlueFeatures
    let b: LightGlueFeatures

    init(n: Int, adaptive: Bool, sparse: Bool) throws {
        let environment = ProcessInfo.processInfo.environment["SPARSEGLUE_WEIGHTS"] ?? ""
        let weights = environment.isEmpty
            ? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/sparseglue/disk_lightglue.safetensors")
            : URL(fileURLWithPath: environment)
        var config = try LightGlueConfiguration(features: "disk")
        if !adaptive { config = config.nonAdaptive }
        if sparse { config.sparsity = .recommended }
        matcher = try LightGlue(weights: weights, config: config)
        // Benchmarks/Benchmarks/Matcher/MatcherBenchmarks.swift → repository root → samples/.
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("samples")
        func load(_ pair: String, _ side: Int) throws -> LightGlueFeatures {
            try LightGlueFeatures(contentsOf: samples.appendingPathComponent("\(pair)/image\(side).safetensors"))
        }
        if n <= 1024 {
            a = try load("sacre_coeur", 0).prefix(n)
            b = try load("sacre_coeur", 1).prefix(n)
        } else {
            a = try LightGlueFeatures.sideBySide(load("sacre_coeur", 0), load("dsc_0410_0411", 0)).prefix(n)
            b = try LightGlueFeatures.sideBySide(load("sacre_coeur", 1), load("dsc_0410_0411", 1)).prefix(n)
        }
    }
}
