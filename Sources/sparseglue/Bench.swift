import ArgumentParser
import Foundation
import SparseGlue

/// `sparseglue bench`: dense vs masked-dense vs sparse attention and k-NN on this machine, every
/// figure next to the machine's own sgemm and memory roofs measured in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark dense, masked-dense and sparse attention and k-NN against this machine's roofs.")

    @Option(help: "Keypoint counts, comma-separated.", transform: parseList) var n: [Int]?
    @Option(help: "Neighbour counts k, comma-separated.", transform: parseList) var k: [Int]?
    @Option(help: "Feature dimension d.") var d = 256
    @Option(help: "Attention heads (must divide d).") var heads = 4
    @Option(help: "OpenMP and OpenBLAS threads (0: all cores).") var threads = 0
    @Flag(help: "A sub-minute run: n = 512, 2048; k = 16, 32; 3 repetitions.") var quick = false
    @Option(help: "Timed repetitions per measurement, after one warm-up (default 5, --quick 3).") var repeats: Int?
    @Option(help: "Largest n×n mask masked-dense may allocate, in MiB.") var maskBudgetMib = 1024
    @Option(help: "Write one CSV row per measurement to this file.") var csv: String?
    @Option(help: "Write a log-log plot of time vs n to this SVG file.") var svg: String?
    // --matcher: the full LightGlue forward instead (MatcherBench.swift).
    @Flag(help: "Benchmark the full LightGlue matcher on the sample features instead (see --sizes).") var matcher = false
    @Option(help: "--matcher: keypoint counts, comma-separated (default 512,1024,2048).", transform: parseList) var sizes: [Int]?
    @Option(help: "--matcher: the samples folder (default ./samples).") var samples = "samples"
    @Flag(help: "--matcher: dense attention only (skip sparse).") var denseOnly = false
    @Option(help: "--matcher: PyTorch timings JSON to compare with.") var pytorchJson: String?

    func validate() throws {
        for v in (n ?? []) where v < 2 { throw ValidationError("--n values must be ≥ 2") }
        for v in (k ?? []) where v < 1 { throw ValidationError("--k values must be ≥ 1") }
        if d < 1 || heads < 1 || d % heads != 0 { throw ValidationError("--heads must divide --d") }
        if threads < 0 { throw ValidationError("--threads must be ≥ 0") }
        if let repeats, repeats < 1 { throw ValidationError("--repeats must be ≥ 1") }
    }

    func run() throws {
        if threads > 0 { try Runtime.setThreads(threads) }
        if matcher {
            return try MatcherBench(sizes: sizes ?? [512, 1024, 2048], repeats: repeats ?? 3, threads: threads,
                                    samples: samples, denseOnly: denseOnly, csv: csv, pytorchJSON: pytorchJson).run()
        }
        let ns = n ?? (quick ? [512, 2048] : [256, 512, 1024, 2048, 4096, 8192])
        let ks = k ?? (quick ? [16, 32] : [8, 16, 32, 64])
        let reps = repeats ?? (quick ? 3 : 5)
        let threadCount = threads > 0 ? threads : Runtime.defaultThreads
        var rows: [BenchRow] = []
        func row(_ n: Int, _ k: Int, _ method: String, _ t: Timing, flop: Double, sgemm: Double, peak: Int?) -> BenchRow {
            let gflops = flop / (t.median / 1000) / 1e9
            return BenchRow(n: n, k: k, d: d, heads: heads, threads: threadCount, method: method, timing: t,
                            gflops: gflops, fractionOfSGEMM: sgemm > 0 ? gflops / sgemm : 0, peakExtraBytes: peak)
        }

        print("SparseGlue \(Runtime.version) bench — \(CPUInfo.modelName), \(threadCount) threads, "
              + "OpenBLAS core \(Runtime.blasCoreType) (OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "unset"))")
        FileHandle.standardError.write(Data("probing sgemm and memory bandwidth…\n".utf8))
        let probe = try MachineProbe.sgemmGFLOPS(size: 2048, repeats: reps, threads: threads)
        let bandwidth = try MachineProbe.streamBandwidthGBs(megabytes: 128, repeats: reps)
        let sgemm = probe.gflops
        rows.append(BenchRow(n: 2048, k: 0, d: 2048, heads: 0, threads: threadCount, method: "sgemm",
                             timing: Timing(median: probe.medianMs, min: probe.minMs, max: probe.maxMs),
                             gflops: sgemm, fractionOfSGEMM: 1, peakExtraBytes: nil))
        print("machine roofs: sgemm 2048³ \(f1(sgemm)) GFLOP/s, stream triad \(f1(bandwidth)) GB/s")
        print("")

        let budget = maskBudgetMib * 1_048_576
        var progress = ProgressBar(total: ns.count * (2 + ks.count * 4))
        var skipped: [String] = []
        for n in ns {
            var rng = SeededGenerator(seed: UInt64(n))
            // Keypoints are renumbered along a Hilbert curve before the k-NN graph and the features
            // are built on them, as a user should do (SpatialOrder): k-NN neighbours then have
            // nearby indices, so the K / V rows sparse attention gathers stay in cache. It is a
            // renumbering only; results are the same up to the permutation of rows.
            let unordered = try Matrix.uniform(rows: n, columns: 2, in: 0...640, using: &rng)
            let order = try SpatialOrder.hilbert(unordered)
            let points = try unordered.permutingRows(order)
            let x = try Matrix.gaussian(rows: n, columns: d, using: &rng).permutingRows(order)
            // Distinct Q, K, V as a real layer has them (one shared matrix would flatter the cache).
            let qkv = QKV(q: x, k: try Matrix.gaussian(rows: n, columns: d, using: &rng),
                          v: try Matrix.gaussian(rows: n, columns: d, using: &rng))
            let ksHere = ks.filter { $0 < n }

            progress.step("dense n=\(n)")
            var peak = try PeakMemory.extraBytes { _ = try attention(qkv, nil, .dense) }
            var t = try Timing.measure(repeats: reps) { _ = try attention(qkv, nil, .dense) }
            rows.append(row(n, 0, "dense", t, flop: 4 * Double(n) * Double(n) * Double(d), sgemm: sgemm, peak: peak))

            for k in ksHere {
                progress.step("k-NN n=\(n) k=\(k)")
                peak = try PeakMemory.extraBytes { _ = try KNNGraph.neighbors(of: points, among: points, k: k, excludingSelf: true) }
                t = try Timing.measure(repeats: reps) {
                    _ = try KNNGraph.neighbors(of: points, among: points, k: k, excludingSelf: true)
                }
                rows.append(row(n, k, "knn2d", t, flop: 0, sgemm: sgemm, peak: peak))

                progress.step("descriptor k-NN n=\(n) k=\(k)")
                peak = try PeakMemory.extraBytes { _ = try KNNGraph.neighbors(of: x, among: x, k: k, excludingSelf: true) }
                t = try Timing.measure(repeats: reps) { _ = try KNNGraph.neighbors(of: x, among: x, k: k, excludingSelf: true) }
                // Useful work: the n×n×d GEMM an exact search needs.
                rows.append(row(n, k, "knndesc", t, flop: 2 * Double(n) * Double(n) * Double(d), sgemm: sgemm, peak: peak))

                progress.step("graph n=\(n) k=\(k)")
                var graph: CSRGraph?
                peak = try PeakMemory.extraBytes { graph = try KNNGraph.build(points: points, k: k) }
                t = try Timing.measure(repeats: reps) { graph = try KNNGraph.build(points: points, k: k) }
                rows.append(row(n, k, "graph_build", t, flop: 0, sgemm: sgemm, peak: peak))
                let g = graph!
                let usefulFlop = 4 * Double(g.edgeCount) * Double(d)

                progress.step("sparse n=\(n) k=\(k)")
                peak = try PeakMemory.extraBytes { _ = try attention(qkv, g, .sparse) }
                t = try Timing.measure(repeats: reps) { _ = try attention(qkv, g, .sparse) }
                rows.append(row(n, k, "sparse", t, flop: usefulFlop, sgemm: sgemm, peak: peak))

                if n * n <= budget {
                    let masked = AttentionBackend.maskedDense(memoryBudgetBytes: budget)
                    peak = try PeakMemory.extraBytes { _ = try attention(qkv, g, masked) }
                    t = try Timing.measure(repeats: reps) { _ = try attention(qkv, g, masked) }
                    rows.append(row(n, k, "masked", t, flop: usefulFlop, sgemm: sgemm, peak: peak))
                } else {
                    skipped.append("masked n=\(n) k=\(k): its \(n)×\(n) mask is over the \(maskBudgetMib) MiB budget")
                }
            }
            progress.step("n=\(n) done")
        }
        progress.finish()

        print(BenchReport(rows: rows, ns: ns, ks: ks).table())
        for s in skipped { print("skipped \(s)") }
        print("")
        print("GFLOP/s count useful work: 4·n²·d for dense, 4·E·d for sparse and masked (E = n·(k+1) with self), "
              + "2·n²·d for descriptor k-NN; % is of the sgemm figure above.")
        if let csv {
            try BenchReport(rows: rows, ns: ns, ks: ks).csv().write(toFile: csv, atomically: true, encoding: .utf8)
            print("wrote \(csv)")
        }
        if let svg {
            try BenchPlot(rows: rows, ks: ks).svg(title: "SparseGlue attention, d = \(d), \(heads) heads, \(threadCount) threads")
                .write(toFile: svg, atomically: true, encoding: .utf8)
            print("wrote \(svg)")
        }
    }

    struct QKV { let q, k, v: Matrix }

    private func attention(_ m: QKV, _ g: CSRGraph?, _ backend: AttentionBackend) throws -> Matrix {
        try AttentionOperator.apply(queries: m.q, keys: m.k, values: m.v, heads: heads, graph: g, backend: backend,
                                    threads: threads).output
    }
}

func parseList(_ text: String) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ $0 != nil }) else {
        throw ValidationError("expected comma-separated integers, got '\(text)'")
    }
    return values.map { $0! }
}

func f1(_ v: Double) -> String { String(format: "%.1f", v) }

/// One measurement: a CSV row.
struct BenchRow {
    let n, k, d, heads, threads: Int
    let method: String
    let timing: Timing
    let gflops: Double
    let fractionOfSGEMM: Double
    let peakExtraBytes: Int?

    static let csvHeader = "n,k,d,heads,threads,method,median_ms,min_ms,max_ms,gflops,frac_sgemm,peak_extra_bytes"

    var csv: String {
        [String(n), String(k), String(d), String(heads), String(threads), method,
         String(format: "%.4f", timing.median), String(format: "%.4f", timing.min), String(format: "%.4f", timing.max),
         String(format: "%.3f", gflops), String(format: "%.4f", fractionOfSGEMM),
         peakExtraBytes.map(String.init) ?? ""].joined(separator: ",")
    }
}

struct BenchReport {
    let rows: [BenchRow]
    let ns: [Int]
    let ks: [Int]

    func find(_ method: String, _ n: Int, _ k: Int) -> BenchRow? {
        rows.first { $0.method == method && $0.n == n && $0.k == k }
    }

    func csv() -> String { ([BenchRow.csvHeader] + rows.map(\.csv)).joined(separator: "\n") + "\n" }

    /// One line per (n, k) with the dense figure repeated.
    func table() -> String {
        var t = Table(header: ["n", "k", "graph ms", "dense ms", "masked ms", "sparse ms (min–max)", "×dense", "×masked",
                               "dense GF/s", "sparse GF/s", "dense %sgemm", "sparse %sgemm", "2-D kNN ms",
                               "desc kNN ms", "sparse extra MB", "masked extra MB"])
        func ms(_ r: BenchRow?) -> String { r.map { fmt($0.timing.median) } ?? "—" }
        func mb(_ r: BenchRow?) -> String { r?.peakExtraBytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "—" }
        for n in ns {
            let dense = find("dense", n, 0)
            for k in ks where k < n {
                let sparse = find("sparse", n, k), masked = find("masked", n, k)
                let speedDense = (dense != nil && sparse != nil) ? fmt(dense!.timing.median / sparse!.timing.median) : "—"
                let speedMasked = (masked != nil && sparse != nil) ? fmt(masked!.timing.median / sparse!.timing.median) : "—"
                let sparseRange = sparse.map { "\(fmt($0.timing.median)) (\(fmt($0.timing.min))–\(fmt($0.timing.max)))" } ?? "—"
                t.add(["\(n)", "\(k)", ms(find("graph_build", n, k)), ms(dense), ms(masked), sparseRange, speedDense, speedMasked,
                       dense.map { f1($0.gflops) } ?? "—", sparse.map { f1($0.gflops) } ?? "—",
                       dense.map { pct($0.fractionOfSGEMM) } ?? "—", sparse.map { pct($0.fractionOfSGEMM) } ?? "—",
                       ms(find("knn2d", n, k)), ms(find("knndesc", n, k)), mb(sparse), mb(masked)])
            }
        }
        return t.render()
    }
}

func pct(_ v: Double) -> String { String(format: "%.0f%%", v * 100) }

/// A log-log SVG of time against n: one line per method (and per k for k-dependent methods).
struct BenchPlot {
    let rows: [BenchRow]
    let ks: [Int]

    func svg(title: String) -> String {
        var series: [(name: String, color: String, dash: String, points: [(Double, Double)])] = []
        let palette = ["dense": "#d62728", "masked": "#ff7f0e", "sparse": "#1f77b4", "graph_build": "#2ca02c"]
        let dashes = ["", "6,3", "2,3", "8,3,2,3", "1,2"]
        func points(_ method: String, _ k: Int) -> [(Double, Double)] {
            rows.filter { $0.method == method && $0.k == k }.sorted { $0.n < $1.n }.map { (Double($0.n), $0.timing.median) }
        }
        series.append(("dense", palette["dense"]!, "", points("dense", 0)))
        for method in ["masked", "sparse", "graph_build"] {
            for (i, k) in ks.enumerated() {
                let p = points(method, k)
                if !p.isEmpty { series.append(("\(method == "graph_build" ? "graph build" : method) k=\(k)", palette[method]!, dashes[i % dashes.count], p)) }
            }
        }
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return "<svg xmlns=\"http://www.w3.org/2000/svg\"/>" }
        let (w, h) = (900.0, 560.0), (left, right, top, bottom) = (80.0, 210.0, 50.0, 60.0)
        let xs = all.map(\.0), ys = all.map(\.1).filter { $0 > 0 }
        // x spans the measured n with a little margin; y spans whole decades for 1-2-5 labels.
        let x0 = log10(xs.min()!) - 0.1, x1 = log10(xs.max()!) + 0.1
        let y0 = floor(log10(ys.min()!)), y1 = ceil(log10(ys.max()!) + 1e-9)
        let px = { (v: Double) in left + (log10(v) - x0) / max(x1 - x0, 1e-9) * (w - left - right) }
        let py = { (v: Double) in h - bottom - (log10(max(v, 1e-9)) - y0) / max(y1 - y0, 1e-9) * (h - top - bottom) }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(w))" height="\(Int(h))" font-family="sans-serif" font-size="13">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="28" font-size="16" font-weight="bold">\(escape(title))</text>

        """
        // Grid: decades plus the n values measured on x; 1-2-5 steps on y.
        for n in Set(xs).sorted() {
            s += "<line x1=\"\(px(n))\" y1=\"\(top)\" x2=\"\(px(n))\" y2=\"\(h - bottom)\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(px(n))\" y=\"\(h - bottom + 18)\" text-anchor=\"middle\">\(Int(n))</text>\n"
        }
        var e = y0
        while e <= y1 {
            for m in [1.0, 2.0, 5.0] {
                let v = m * pow(10, e)
                guard log10(v) <= y1 + 1e-9 else { continue }
                s += "<line x1=\"\(left)\" y1=\"\(py(v))\" x2=\"\(w - right)\" y2=\"\(py(v))\" stroke=\"\(m == 1 ? "#ccc" : "#eee")\"/>\n"
                s += "<text x=\"\(left - 8)\" y=\"\(py(v) + 4)\" text-anchor=\"end\">\(v >= 1 ? String(Int(v)) : String(format: "%g", v))</text>\n"
            }
            e += 1
        }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(w - left - right)\" height=\"\(h - top - bottom)\" fill=\"none\" stroke=\"#333\"/>\n"
        s += "<text x=\"\((left + w - right) / 2)\" y=\"\(h - 15)\" text-anchor=\"middle\">keypoints n (log scale)</text>\n"
        s += "<text transform=\"translate(22 \((top + h - bottom) / 2)) rotate(-90)\" text-anchor=\"middle\">median time, ms (log scale)</text>\n"
        for (i, line) in series.enumerated() {
            let path = line.points.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            s += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\" stroke-dasharray=\"\(line.dash)\"/>\n"
            for p in line.points { s += "<circle cx=\"\(px(p.0))\" cy=\"\(py(p.1))\" r=\"3\" fill=\"\(line.color)\"/>\n" }
            let ly = top + 10 + Double(i) * 20
            s += "<line x1=\"\(w - right + 15)\" y1=\"\(ly)\" x2=\"\(w - right + 45)\" y2=\"\(ly)\" stroke=\"\(line.color)\" stroke-width=\"2\" stroke-dasharray=\"\(line.dash)\"/>\n"
            s += "<text x=\"\(w - right + 52)\" y=\"\(ly + 4)\">\(escape(line.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }
}
