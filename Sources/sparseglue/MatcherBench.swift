import ArgumentParser
import Foundation
import SparseGlue

/// `sparseglue bench --matcher`: the full LightGlue forward (dense, and sparse with
/// `LightGlueSparsity.recommended`) on the shipped sample features, adaptivity off and on, at
/// several keypoint counts. Inputs: n ≤ 1024 takes the first n rows of samples/sacre_coeur (rows
/// are sorted by detection score); larger n a horizontal mosaic, image A = sacre_coeur image0 ‖
/// dsc_0410_0411 image0 (x of the second shifted by sacre_coeur image0's width, size
/// (w₀ + w₁, max h)), image B likewise from the image1 files — the inputs
/// Benchmarks/reference/pytorch_lightglue_timing.py builds, so `--pytorch-json` ratios compare
/// the same work.
struct MatcherBench {
    var sizes: [Int]
    var repeats: Int
    var threads: Int
    var samples: String
    var denseOnly: Bool
    var csv: String?
    var pytorchJSON: String?

    struct Row {
        let n: Int, mode: String, attention: String
        let medianMs: Double, minMs: Double, maxMs: Double
        let matches: Int, layers: Int, perLayerMs: [Double]
        /// PyTorch's median and minimum for this size and mode (`--pytorch-json`), dense rows only.
        let pytorchMs: Double?
        let pytorchMinMs: Double?

        var meanLayerMs: Double { perLayerMs.isEmpty ? 0 : perLayerMs.reduce(0, +) / Double(perLayerMs.count) }
        var ratio: Double? { pytorchMs.map { medianMs / $0 } }
        /// min / min: the steadier figure on a busy shared machine.
        var minRatio: Double? { pytorchMinMs.map { minMs / $0 } }

        static let csvHeader = "n,mode,attention,median_ms,min_ms,max_ms,matches,layers,mean_layer_ms,layer_ms,pytorch_ms,ratio,pytorch_min_ms,min_ratio"
        var csv: String {
            [String(n), mode, attention, f3(medianMs), f3(minMs), f3(maxMs), String(matches), String(layers),
             f3(meanLayerMs), perLayerMs.map(f3).joined(separator: ";"), pytorchMs.map(f3) ?? "",
             ratio.map { String(format: "%.3f", $0) } ?? "", pytorchMinMs.map(f3) ?? "",
             minRatio.map { String(format: "%.3f", $0) } ?? ""].joined(separator: ",")
        }
    }

    func run() throws {
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--sizes must be ≥ 1") }
        let root = URL(fileURLWithPath: samples)
        let (url, preset) = try WeightsLocation.resolve("disk", features: "disk")
        let base = try LightGlue(weights: url, config: LightGlueConfiguration(features: preset))
        let reference = try pytorchJSON.map(Self.readPyTorch)
        let threadCount = threads > 0 ? threads : Runtime.defaultThreads
        print("SparseGlue \(Runtime.version) matcher bench — \(CPUInfo.modelName), \(threadCount) threads, "
              + "OpenBLAS core \(Runtime.blasCoreType) (OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset")), "
              + "median of \(repeats) after 1 warm-up")
        var rows: [Row] = []
        for n in sizes {
            let (a, b) = try Self.inputs(n: n, root: root)
            for mode in ["off", "adaptive"] {
                var config = try LightGlueConfiguration(features: preset)
                if mode == "off" { config = config.nonAdaptive }
                var variants: [(String, LightGlueConfiguration)] = [("dense", config)]
                if !denseOnly {
                    var s = config
                    s.sparsity = .recommended
                    variants.append(("sparse", s))
                }
                for (attention, c) in variants {
                    let model = try base.with(configuration: c)
                    FileHandle.standardError.write(Data("n=\(n) \(mode) \(attention)…\n".utf8))
                    _ = try model.match(a, b)
                    var runs = [LightGlueMatches]()
                    for _ in 0..<repeats { runs.append(try model.match(a, b)) }
                    runs.sort { $0.seconds < $1.seconds }
                    let med = runs[runs.count / 2]
                    let py = attention == "dense" ? reference?[String(n)]?[mode] : nil
                    rows.append(Row(n: n, mode: mode, attention: attention, medianMs: med.seconds * 1000,
                                    minMs: runs.first!.seconds * 1000, maxMs: runs.last!.seconds * 1000,
                                    matches: med.matchCount, layers: med.layersRun, perLayerMs: med.timing.layers,
                                    pytorchMs: py?.median.map { $0 * 1000 }, pytorchMinMs: py?.min.map { $0 * 1000 }))
                }
            }
        }
        print("")
        print(Self.table(rows))
        if let csv {
            try ([Row.csvHeader] + rows.map(\.csv)).joined(separator: "\n").appending("\n")
                .write(toFile: csv, atomically: true, encoding: .utf8)
            print("wrote \(csv)")
        }
    }

    static func table(_ rows: [Row]) -> String {
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        var lines = [[pad("n", 5), pad("mode", 8, left: true), pad("attention", 9, left: true), pad("median ms", 10),
                      pad("min–max ms", 16), pad("matches", 7), pad("layers", 6), pad("ms/layer", 8),
                      pad("PyTorch ms", 10), pad("ratio", 5), pad("min ratio", 9)].joined(separator: "  ")]
        for r in rows {
            lines.append([pad(String(r.n), 5), pad(r.mode, 8, left: true), pad(r.attention, 9, left: true),
                          pad(fmt(r.medianMs), 10), pad("\(fmt(r.minMs))–\(fmt(r.maxMs))", 16),
                          pad(String(r.matches), 7), pad(String(r.layers), 6), pad(fmt(r.meanLayerMs), 8),
                          pad(r.pytorchMs.map(fmt) ?? "—", 10),
                          pad(r.ratio.map { String(format: "%.2f", $0) } ?? "—", 5),
                          pad(r.minRatio.map { String(format: "%.2f", $0) } ?? "—", 9)].joined(separator: "  "))
        }
        return lines.joined(separator: "\n")
    }

    /// {"1024": {"off": {"median_s": …, "min_s": …}, "adaptive": {…}}, …} → size → mode →
    /// (median, min) seconds.
    static func readPyTorch(_ path: String) throws -> [String: [String: (median: Double?, min: Double?)]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let top = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("\(path): expected a JSON object keyed by keypoint count")
        }
        var out = [String: [String: (median: Double?, min: Double?)]]()
        for (size, value) in top {
            guard let modes = value as? [String: Any] else { continue }
            for (mode, entry) in modes {
                guard let e = entry as? [String: Any] else { continue }
                let median = (e["median_s"] as? NSNumber)?.doubleValue, min = (e["min_s"] as? NSNumber)?.doubleValue
                if median != nil || min != nil { out[size, default: [:]][mode] = (median, min) }
            }
        }
        return out
    }

    // MARK: inputs

    /// The benchmark pair for n keypoints per image (see the type's comment).
    static func inputs(n: Int, root: URL) throws -> (LightGlueFeatures, LightGlueFeatures) {
        func load(_ pair: String, _ i: Int) throws -> LightGlueFeatures {
            let url = root.appendingPathComponent("\(pair)/image\(i).safetensors")
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw ValidationError("no sample features at \(url.path) (run from the repository root or pass --samples)")
            }
            return try LightGlueFeatures(contentsOf: url)
        }
        let sc0 = try load("sacre_coeur", 0), sc1 = try load("sacre_coeur", 1)
        if n <= min(sc0.count, sc1.count) { return (try sc0.prefix(n), try sc1.prefix(n)) }
        let a = try LightGlueFeatures.sideBySide(sc0, load("dsc_0410_0411", 0))
        let b = try LightGlueFeatures.sideBySide(sc1, load("dsc_0410_0411", 1))
        guard n <= min(a.count, b.count) else {
            throw ValidationError("the sample mosaic has \(min(a.count, b.count)) keypoints per image; n = \(n) is too many")
        }
        return (try a.prefix(n), try b.prefix(n))
    }
}

private func f3(_ v: Double) -> String { String(format: "%.3f", v) }
