import ArgumentParser
import Foundation
import SparseGlue

/// `sparseglue variants`: training-free Sparse LightGlue variants on the fixture pairs — match F1
/// against our dense output, precision / recall against the homography pair's ground truth, time.
struct Variants: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate training-free Sparse LightGlue variants on the fixture pairs (F1 vs dense, P/R vs ground truth, time).",
        discussion: """
        A variant is named by tokens joined with '-' (docs/sparse-lightglue.md): L<n> first n layers \
        dense; Ls<n> self-attention dense up to layer n-1; s<k> self on the k nearest keypoints + \
        itself; s<k1>/<k2>n|d nested / disjoint pair (heads 0-1 on kNN(k1), heads 2-3 on kNN(k2) or \
        kNN(k2)\\kNN(k1)); s<k>q self top-k by each head's logits; h<m> hubs (keys of largest \
        mean-query logit); l<k> + top-k logits; g<s> self far field (own spatial group of ~s points, \
        centroids of the others); c<k> cross top-k of the layer's logits, c<k>h per head, c<k>o first \
        head, c<k>d input-descriptor cosine, c<k>g via groups; a trailing t: reverse direction = \
        transposed graph; x<s> cross far field (centroids of the other image's groups of ~s points). \
        Example: L3-c32ot-x32 (the recommended default). Pair 'mosaic' is 2048 + 2048 keypoints: \
        sacre_coeur and dsc_0410_0411 side by side. Runs are interleaved (dense, then each variant, \
        repeated) and each time is the median of --repeats.
        """)

    /// The grid of docs/sparse-lightglue.md (the recommended default is L3-c32ot-x32).
    static let defaultGrid = [
        "L1-s32-c64d", "s32", "s16/64n", "s16/64d", "c64", "c64-x32", "c32ot-x32", "h128-g32", "L6-s32",
        "L6-h128-g32", "L2-c32ot-x32", "L3-c32ot-x32", "L4-c32ot-x32", "L2-Ls7-s32-c32ot-x32",
        "L2-Ls6-h128-g32-c32ot-x32",
    ]

    @Option(help: "Variants, comma-separated (names as above; default: the built-in grid).") var variants: String?
    @Flag(help: "Add the recommended default to the list.") var recommended = false
    @Option(help: "Pairs, comma-separated: sacre_coeur, dsc_0410_0411, sacre_coeur_H, mosaic.")
    var pairs = "sacre_coeur,dsc_0410_0411,sacre_coeur_H,mosaic"
    @Option(help: "Adaptivity: off, on or both.") var adaptivity = "both"
    @Option(help: "Timed runs per variant (median reported).") var repeats = 3
    @Option(help: "Folder with the sample features (<pair>/image{0,1}.safetensors).") var samples = "samples"
    @Option(help: "Weights: a preset (disk: the fetched file in the cache) or a .safetensors path.") var weights = "disk"
    @Option(help: "Use only the first n keypoints of each image (mosaic: of each source image).") var keypoints: Int?
    @Option(help: "Threads (0: all cores).") var threads = 0
    @Option(help: "Write the table as CSV here.") var csv: String?
    @Flag(help: "Also print each model's per-layer times (ms, last run).") var layerTimes = false
    @Flag(help: "Instead: time the building blocks (dense / sparse attention, top-k searches) at 1024 and 2048 points.")
    var profile = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1") }
        guard ["off", "on", "both"].contains(adaptivity) else { throw ValidationError("--adaptivity must be off, on or both") }
        if let keypoints, keypoints < 2 { throw ValidationError("--keypoints must be ≥ 2") }
    }

    struct Row {
        let variant: String
        let summary: String
        let pair: String
        let adaptive: Bool
        let keypoints: String
        let matches: Int
        let layers: Int
        let f1: Double
        let precision: Double?
        let recall: Double?
        let ms: Double
        let speedup: Double
    }

    func run() throws {
        if threads > 0 { try Runtime.setThreads(threads) }
        if profile { return try Self.profileBlocks(repeats: repeats) }
        var specs = try (variants.map { $0.split(separator: ",").map(String.init) } ?? Self.defaultGrid)
            .map { try LightGlueSparsity(name: $0) }
        if recommended && !specs.contains(.recommended) { specs.append(.recommended) }
        let (url, preset) = try WeightsLocation.resolve(weights, features: "disk")
        let base = try LightGlue(weights: url, config: LightGlueConfiguration(features: preset))
        let root = URL(fileURLWithPath: samples)
        let modes: [Bool] = adaptivity == "both" ? [false, true] : [adaptivity == "on"]
        print("Sparse LightGlue variants — \(Runtime.defaultThreads) threads, median of \(repeats), weights \(url.path)")
        var rows = [Row]()
        for pair in pairs.split(separator: ",").map(String.init) {
            let (a, b, gt) = try Self.load(pair: pair, root: root, keypoints: keypoints)
            for adaptive in modes {
                var config = try LightGlueConfiguration(features: preset)
                if !adaptive { config = config.nonAdaptive }
                let dense = try base.with(configuration: config)
                let models = try [dense] + specs.map { s -> LightGlue in
                    var c = config
                    c.sparsity = s
                    return try dense.with(configuration: c)
                }
                _ = try dense.match(a, b) // warm-up
                var times = [[Double]](repeating: [], count: models.count)
                var last = [LightGlueMatches?](repeating: nil, count: models.count)
                for _ in 0..<repeats {
                    for (m, model) in models.enumerated() {
                        let r = try model.match(a, b)
                        times[m].append(r.seconds * 1000)
                        last[m] = r
                    }
                }
                let medians = times.map { t in t.sorted()[t.count / 2] }
                let reference = last[0]!.matches0
                for (m, result) in last.enumerated() {
                    let r = result!
                    let (p, rc) = gt.map { Self.groundTruth(r.matches0, $0) } ?? (nil, nil)
                    let spec: LightGlueSparsity? = m == 0 ? nil : specs[m - 1]
                    let row = Row(variant: spec?.name ?? "dense", summary: spec?.summary ?? "published dense model",
                                  pair: pair, adaptive: adaptive, keypoints: "\(a.count)+\(b.count)", matches: r.matchCount,
                                  layers: r.layersRun,
                                  f1: try MatchComparison(reference: reference, candidate: r.matches0).f1,
                                  precision: p, recall: rc, ms: medians[m], speedup: medians[0] / medians[m])
                    rows.append(row)
                    Self.printRow(row, header: rows.count == 1)
                    if layerTimes {
                        let t = r.timing
                        print("    encoding \(String(format: "%.1f", t.encoding)), graphs \(String(format: "%.1f", t.graphs)), layers "
                              + t.layers.map { String(format: "%.1f", $0) }.joined(separator: " ")
                              + ", assignment \(String(format: "%.1f", t.assignment)) ms")
                    }
                }
            }
        }
        if let csv {
            var text = "variant,summary,pair,adaptive,keypoints,matches,layers,f1_vs_dense,precision_gt,recall_gt,ms,speedup\n"
            for r in rows {
                text += [r.variant, "\"\(r.summary)\"", r.pair, r.adaptive ? "on" : "off", r.keypoints, "\(r.matches)",
                         "\(r.layers)", String(format: "%.4f", r.f1), r.precision.map { String(format: "%.4f", $0) } ?? "",
                         r.recall.map { String(format: "%.4f", $0) } ?? "", String(format: "%.1f", r.ms),
                         String(format: "%.3f", r.speedup)].joined(separator: ",") + "\n"
            }
            try text.write(toFile: csv, atomically: true, encoding: .utf8)
            print("wrote \(csv)")
        }
    }

    /// Median times (ms) of the pieces a sparse layer is made of, on random features.
    static func profileBlocks(repeats: Int) throws {
        for n in [1024, 2048] {
            var rng = SeededGenerator(seed: 7)
            let q = try Matrix.gaussian(rows: n, columns: 256, standardDeviation: 0.3, using: &rng)
            let k = try Matrix.gaussian(rows: n, columns: 256, standardDeviation: 0.3, using: &rng)
            let p = try Matrix.uniform(rows: n, columns: 2, in: -1...1, using: &rng)
            func time(_ name: String, _ body: () throws -> Void) rethrows {
                var t = [Double]()
                for _ in 0..<(repeats + 1) {
                    let s = DispatchTime.now().uptimeNanoseconds
                    try body()
                    t.append(Double(DispatchTime.now().uptimeNanoseconds - s) / 1e6)
                }
                print(String(format: "n=%d  %-44@ %8.2f ms", n, name as NSString, t.dropFirst().sorted()[repeats / 2]))
            }
            try time("dense attention (4 heads)") {
                _ = try AttentionOperator.apply(queries: q, keys: k, values: k, heads: 4, graph: nil, backend: .dense)
            }
            let g96 = try KNNGraph.cross(from: q, to: k, k: 96, metric: .dot)
            try time("sparse attention, 96 keys/row") {
                _ = try AttentionOperator.apply(queries: q, keys: k, values: k, heads: 4, graph: g96, backend: .sparse)
            }
            try time("positional kNN 32 (2-D grid)") { _ = try KNNGraph.build(points: p, k: 32) }
            try time("exact top-64 by dot, 256-d") { _ = try KNNGraph.cross(from: q, to: k, k: 64, metric: .dot) }
            let q64 = try q.columns(0..<64), k64 = try k.columns(0..<64)
            try time("exact top-64 by dot, 64-d") { _ = try KNNGraph.cross(from: q64, to: k64, k: 64, metric: .dot) }
            try time("exact top-32 by dot, 64-d") { _ = try KNNGraph.cross(from: q64, to: k64, k: 32, metric: .dot) }
            try time("fast top-32 by dot, 64-d (sg_topk_dot_rows)") { _ = try KNNGraph.fastTopDot(of: q64, among: k64, k: 32) }
            try time("logits GEMM n×n×256 (matmul)") { _ = try q.matmul(k, transposingOther: true) }
        }
    }

    static func printRow(_ r: Row, header: Bool) {
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        if header {
            print(pad("variant", 18) + pad("pair", 15) + pad("adapt", 6) + pad("keypoints", 10) + pad("matches", 8) + pad("layers", 7)
                  + pad("F1", 7) + pad("P_gt", 7) + pad("R_gt", 7) + pad("ms", 9) + "speed-up")
        }
        print(pad(r.variant, 18) + pad(r.pair, 15) + pad(r.adaptive ? "on" : "off", 6) + pad(r.keypoints, 10)
              + pad("\(r.matches)", 8) + pad("\(r.layers)", 7) + pad(String(format: "%.3f", r.f1), 7)
              + pad(r.precision.map { String(format: "%.3f", $0) } ?? "-", 7)
              + pad(r.recall.map { String(format: "%.3f", $0) } ?? "-", 7)
              + pad(String(format: "%.1f", r.ms), 9) + String(format: "%.2f×", r.speedup))
    }

    /// Precision / recall of `matches0` against `gt` (j, −1 no correspondence, −2 outside the
    /// other image): precision over the predicted matches of points with gt ≠ −2, recall over the
    /// ground-truth correspondences (the fixtures' convention).
    static func groundTruth(_ matches0: [Int], _ gt: [Int]) -> (Double, Double) {
        var predicted = 0, correct = 0, positives = 0
        for i in gt.indices {
            if gt[i] >= 0 { positives += 1 }
            guard gt[i] != -2, matches0[i] >= 0 else { continue }
            predicted += 1
            if matches0[i] == gt[i] { correct += 1 }
        }
        return (predicted == 0 ? 1 : Double(correct) / Double(predicted),
                positives == 0 ? 1 : Double(correct) / Double(positives))
    }

    /// Features of a pair (and its ground truth, when the folder has one); "mosaic" puts
    /// sacre_coeur and dsc_0410_0411 side by side: A = sacre_coeur image0 ‖ dsc image0 (x shifted
    /// by sacre_coeur image0's width), B likewise with the image1 files.
    static func load(pair: String, root: URL, keypoints: Int?) throws
        -> (LightGlueFeatures, LightGlueFeatures, [Int]?) {
        func features(_ p: String, _ i: Int) throws -> LightGlueFeatures {
            try LightGlueFeatures(contentsOf: root.appendingPathComponent("\(p)/image\(i).safetensors")).prefix(keypoints ?? .max)
        }
        if pair == "mosaic" {
            let a = try LightGlueFeatures.sideBySide(features("sacre_coeur", 0), features("dsc_0410_0411", 0))
            let b = try LightGlueFeatures.sideBySide(features("sacre_coeur", 1), features("dsc_0410_0411", 1))
            return (a, b, nil)
        }
        let gtURL = root.appendingPathComponent("\(pair)/gt.safetensors")
        var gt: [Int]?
        if FileManager.default.fileExists(atPath: gtURL.path) {
            gt = try SafeTensorsFile(contentsOf: gtURL).ints("gt_matches0")
            if let keypoints, keypoints < gt!.count {
                // Truncation keeps only ground truth whose partner survives.
                gt = gt!.prefix(keypoints).map { $0 >= keypoints ? -1 : $0 }
            }
        }
        let a = try features(pair, 0), b = try features(pair, 1)
        if let gt {
            let original = try LightGlueFeatures(contentsOf: root.appendingPathComponent("\(pair)/image0.safetensors")).count
            guard gt.count == Swift.min(original, keypoints ?? .max), gt.allSatisfy({ $0 >= -2 && $0 < b.count }) else {
                throw ValidationError("\(gtURL.path): gt_matches0 has \(gt.count) entries for \(original) keypoints, or indices outside image 1")
            }
        }
        return (a, b, gt)
    }
}
