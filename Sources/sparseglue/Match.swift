import ArgumentParser
import Foundation
import SparseGlue

/// `sparseglue match A B`: LightGlue on two features files, JSON out.
struct Match: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Match two keypoint feature files with pretrained LightGlue (dense or sparse attention).",
        discussion: """
        A features file is safetensors with keypoints [N,2] float32 (pixels, x,y), descriptors [N,D] \
        float32, image_size [2] float32 (width, height) and optional scores [N]. Weights come from \
        scripts/fetch-weights (cached in ~/.cache/sparseglue/).
        """)

    @Argument(help: "Features of image A (.safetensors).") var a: String
    @Argument(help: "Features of image B (.safetensors).") var b: String
    @Option(help: "Weights: a preset (disk, aliked: the fetched file in the cache) or a .safetensors path.")
    var weights = "disk"
    @Option(help: "Feature preset when --weights is a path (disk, aliked).") var features = "disk"
    @Option(help: "Attention: dense (the published model), sparse, or both (compare).") var attention = "dense"
    @Option(help: "Sparse variant by name (see docs/sparse-lightglue.md), e.g. L3-c32ot-x32 (the default) or L2-s64-c64.")
    var sparsity: String?
    @Option(help: "Sparse: self-attention on each keypoint's k nearest keypoints.") var k: Int?
    @Option(help: "Sparse: cross-attention on each point's k most similar points of the other image.")
    var crossK: Int?
    @Option(help: "Sparse: the first L layers stay dense.") var denseLayers: Int?
    @Flag(help: "All layers, all points (no early exit, no pruning).") var noAdaptive = false
    @Option(help: "Timed runs (the median run is reported).") var repeats = 1
    @Option(help: "Threads (0: all cores).") var threads = 0
    @Option(help: "Write the matches as JSON here.") var out: String?

    func run() throws {
        if threads > 0 { try Runtime.setThreads(threads) }
        guard ["dense", "sparse", "both"].contains(attention) else {
            throw ValidationError("--attention must be dense, sparse or both, got '\(attention)'")
        }
        guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1") }
        let readStart = Date()
        let fa = try LightGlueFeatures(contentsOf: URL(fileURLWithPath: a))
        let fb = try LightGlueFeatures(contentsOf: URL(fileURLWithPath: b))
        let readMs = Date().timeIntervalSince(readStart) * 1000
        let loadStart = Date()
        let (url, preset) = try WeightsLocation.resolve(weights, features: features)
        var config = try LightGlueConfiguration(features: preset)
        if noAdaptive { config = config.nonAdaptive }
        let dense = try LightGlue(weights: url, config: config)
        let loadMs = Date().timeIntervalSince(loadStart) * 1000

        var sparsity = try self.sparsity.map { try LightGlueSparsity(name: $0) } ?? .recommended
        if let k { sparsity.selfK = k }
        if let crossK { sparsity.crossK = crossK }
        if let denseLayers { sparsity.denseLayers = denseLayers }
        config.sparsity = sparsity
        let sparse = try dense.with(configuration: config)

        print("LightGlue(\(preset)) \(fa.count) × \(fb.count) keypoints, adaptivity \(noAdaptive ? "off" : "on"), "
              + "\(Runtime.defaultThreads) threads, OpenBLAS core \(Runtime.blasCoreType); weights \(url.path) (\(fmt(loadMs)) ms)")
        func timed(_ m: LightGlue) throws -> LightGlueMatches {
            var runs = [LightGlueMatches]()
            for _ in 0..<repeats { runs.append(try m.match(fa, fb)) }
            return runs.sorted { $0.seconds < $1.seconds }[repeats / 2]
        }
        var results = [(String, LightGlueMatches)]()
        if attention != "sparse" { results.append(("dense", try timed(dense))) }
        if attention != "dense" { results.append(("sparse", try timed(sparse))) }
        for (name, r) in results {
            let detail = name == "sparse" ? " [\(sparsity.name): \(sparsity.summary)]" : ""
            print("\(name)\(detail): \(r.matchCount) matches, \(r.layersRun) layers, \(fmt(r.seconds * 1000)) ms"
                  + (repeats > 1 ? " (median of \(repeats))" : ""))
        }
        let best = results[0].1
        let top = best.matches0.indices.filter { best.matches0[$0] >= 0 }
            .sorted { best.matchingScores0[$0] > best.matchingScores0[$1] }.prefix(3)
        if !top.isEmpty { print("strongest \(results[0].0) matches (pixels):") }
        for i in top {
            let j = best.matches0[i]
            print(String(format: "  A #%d (%.1f, %.1f) ↔ B #%d (%.1f, %.1f), score %.3f", i, fa.keypoints[i, 0], fa.keypoints[i, 1],
                         j, fb.keypoints[j, 0], fb.keypoints[j, 1], best.matchingScores0[i]))
        }
        // F1 of the sparse matches against the dense ones, when both ran.
        let f1 = results.count == 2
            ? try MatchComparison(reference: results[0].1.matches0, candidate: results[1].1.matches0).f1 : nil
        if let f1 {
            let speedup = results[0].1.seconds / results[1].1.seconds
            print("sparse vs dense: \(fmt(speedup))× faster, match F1 \(String(format: "%.3f", f1))")
        }
        if let out {
            var json = MatchReport(results[0].1, readMs: readMs, loadMs: loadMs).object
            if let f1 {
                var sparseJSON = MatchReport(results[1].1, readMs: readMs, loadMs: loadMs).object
                sparseJSON["f1_vs_dense"] = f1
                json["sparse"] = sparseJSON
            }
            let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: out))
            print("wrote \(out)")
        }
    }
}

/// The JSON other tools read: matches0, matching_scores0, layers, timing_ms.
struct MatchReport {
    let object: [String: Any]

    init(_ r: LightGlueMatches, readMs: Double, loadMs: Double) {
        object = [
            "matches0": r.matches0,
            "matching_scores0": r.matchingScores0.map(Double.init),
            "matches1": r.matches1,
            "layers": r.layersRun,
            "num_matches": r.matchCount,
            "timing_ms": [
                "total": r.seconds * 1000,
                "read_features": readMs,
                "load_weights": loadMs,
                "encoding": r.timing.encoding,
                "graphs": r.timing.graphs,
                "layers": r.timing.layers,
                "assignment": r.timing.assignment,
            ] as [String: Any],
        ]
    }
}

/// Where `--weights disk` finds its file: ~/.cache/sparseglue/<preset>_lightglue.safetensors.
enum WeightsLocation {
    static func resolve(_ value: String, features: String) throws -> (URL, String) {
        if LightGlueConfiguration.presetNames.contains(value) {
            let url = FileManager.default.homeDirectoryForCurrentUser
                .appendingPathComponent(".cache/sparseglue/\(value)_lightglue.safetensors")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ValidationError("no \(value) weights at \(url.path): run scripts/fetch-weights --features \(value)")
            }
            return (url, value)
        }
        guard FileManager.default.fileExists(atPath: value) else {
            throw ValidationError("--weights: '\(value)' is neither a preset (\(LightGlueConfiguration.presetNames.joined(separator: ", "))) nor a file")
        }
        return (URL(fileURLWithPath: value), features)
    }
}
