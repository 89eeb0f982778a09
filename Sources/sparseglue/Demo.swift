import ArgumentParser
import Foundation
import SparseGlue

#if canImport(Glibc)
import Glibc
#endif

/// `sparseglue demo`: one multi-scale fusion layer on built-in synthetic data, every backend.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one fusion layer with dense, masked-dense and sparse attention on synthetic keypoints.")

    @Option(help: "Keypoints per image.") var n = 2048
    @Option(help: "G1 = kNN(k1).") var k1 = 8
    @Option(help: "G2 = kNN(k2) (nested) or kNN(k2) \\ kNN(k1) (disjoint).") var k2 = 32
    @Option(help: "Descriptor dimension d.") var d = 256
    @Option(help: "Attention heads (must divide d).") var heads = 4
    @Option(help: "Threads (0: all cores).") var threads = 0
    @Option(help: "Seed of the synthetic data and the weights.") var seed: UInt64 = 7
    @Option(help: "Timed repetitions per measurement (the median is shown).") var repeats = 3

    func run() throws {
        if threads > 0 { try Runtime.setThreads(threads) }
        let pair = try SyntheticPair(count: n, dimension: d, seed: seed)
        let x = pair.a.descriptors
        var rng = SeededGenerator(seed: seed &+ 1)
        let fusion = try MultiScaleFusion(dimension: d, heads: heads, generator: &rng)
        print("SparseGlue \(Runtime.version) demo — n = \(n) keypoints, d = \(d), \(heads) heads, "
              + "k1 = \(k1), k2 = \(k2), \(Runtime.defaultThreads) OpenMP threads, OpenBLAS core \(Runtime.blasCoreType)")
        print("")

        // Graph construction on positions.
        var nested: GraphPair?, disjoint: GraphPair?
        let nestedMs = try medianMs { nested = try GraphPair.nested(points: pair.a.positions, k1: k1, k2: k2) }
        let disjointMs = try medianMs { disjoint = try GraphPair.disjoint(points: pair.a.positions, k1: k1, k2: k2) }
        var table = Table(header: ["step", "graph", "edges (G1+G2)", "time ms", "note"])
        table.add(["graph build", "nested", "\(nested!.g1.edgeCount)+\(nested!.g2.edgeCount)", fmt(nestedMs),
                   "one \(k2)-NN search (2-D grid)"])
        table.add(["graph build", "disjoint", "\(disjoint!.g1.edgeCount)+\(disjoint!.g2.edgeCount)", fmt(disjointMs),
                   "+ CSR difference"])

        // Attention kernels alone (on projected Q, K, V) on the complete graph: dense is the reference.
        let p = try fusion.attention.project(receivers: x, senders: x, values: x)
        func attend(_ p: MultiHeadAttention.Projections, _ g: CSRGraph?, _ backend: AttentionBackend) throws -> Matrix {
            try AttentionOperator.apply(queries: p.queries, keys: p.keys, values: p.values, heads: heads, graph: g,
                                        backend: backend, threads: threads).output
        }
        let complete = try CSRGraph.complete(rows: n, columns: n)
        var dense: Matrix?, sparseComplete: Matrix?, maskedComplete: Matrix?
        let denseMs = try medianMs { dense = try attend(p, nil, .dense) }
        let sparseCompleteMs = try medianMs {
            sparseComplete = try attend(p, complete, .sparse)
        }
        let maskedCompleteMs = try medianMs {
            maskedComplete = try attend(p, complete, .masked)
        }
        let scale = max(dense!.maxAbsoluteValue, .leastNormalMagnitude)
        table.add(["attention", "complete", "\(complete.edgeCount)", fmt(denseMs), "dense (BLAS), the reference"])
        table.add(["attention", "complete", "\(complete.edgeCount)", fmt(maskedCompleteMs),
                   "masked: max |Δ| vs dense \(sci(try maskedComplete!.maxAbsoluteDifference(dense!) / scale)) (rel)"])
        table.add(["attention", "complete", "\(complete.edgeCount)", fmt(sparseCompleteMs),
                   "sparse: max |Δ| vs dense \(sci(try sparseComplete!.maxAbsoluteDifference(dense!) / scale)) (rel)"])

        // Attention alone on G2 of the nested pair: the cost the graph saves.
        let g2 = nested!.g2
        var sparseG2: Matrix?, maskedG2: Matrix?
        let sparseG2Ms = try medianMs { sparseG2 = try attend(p, g2, .sparse) }
        let maskedG2Ms = try medianMs { maskedG2 = try attend(p, g2, .masked) }
        table.add(["attention", "nested G2", "\(g2.edgeCount)", fmt(maskedG2Ms), "masked-dense (n×n mask)"])
        table.add(["attention", "nested G2", "\(g2.edgeCount)", fmt(sparseG2Ms),
                   "sparse: \(fmt(maskedG2Ms / sparseG2Ms))× faster than masked, \(fmt(denseMs / sparseG2Ms))× than dense; "
                   + "max |Δ| vs masked \(sci(try sparseG2!.maxAbsoluteDifference(maskedG2!) / max(maskedG2!.maxAbsoluteValue, .leastNormalMagnitude)))"])

        // The fusion layer on both graph pairs, masked-dense vs sparse.
        var orthogonality: [(String, Float)] = []
        for (name, graphs) in [("nested", nested!), ("disjoint", disjoint!)] {
            var sparseOut: MultiScaleFusion.Output?, maskedOut: MultiScaleFusion.Output?
            let sparseMs = try medianMs { sparseOut = try fusion(x, senders: x, g1: graphs.g1, g2: graphs.g2, backend: .sparse) }
            let maskedMs = try medianMs { maskedOut = try fusion(x, senders: x, g1: graphs.g1, g2: graphs.g2, backend: .masked) }
            let diff = try sparseOut!.message.maxAbsoluteDifference(maskedOut!.message)
                / max(maskedOut!.message.maxAbsoluteValue, .leastNormalMagnitude)
            let edges = "\(graphs.g1.edgeCount)+\(graphs.g2.edgeCount)"
            table.add(["fusion layer", name, edges, fmt(maskedMs), "masked-dense"])
            table.add(["fusion layer", name, edges, fmt(sparseMs),
                       "sparse: \(fmt(maskedMs / sparseMs))× faster, max |Δ| vs masked \(sci(diff)) (rel)"])
            orthogonality.append((name, sparseOut!.orthogonality))
        }
        var denseFusion: MultiScaleFusion.Output?
        let denseFusionMs = try medianMs { denseFusion = try fusion(x, senders: x, g1: nil, g2: nil, backend: .dense) }
        table.add(["fusion layer", "complete", "\(complete.edgeCount)×2", fmt(denseFusionMs), "dense, for scale"])
        print(table.render())
        print("")
        for (name, o) in orthogonality {
            print("orthogonality mean |cos(f1, f2)| on the \(name) pair: \(String(format: "%.4f", o))")
        }
        print("orthogonality on the complete graph (f1 = f2): \(String(format: "%.4f", denseFusion!.orthogonality))")
    }

    /// Median wall time in milliseconds of `repeats` runs after one warm-up.
    func medianMs(_ body: () throws -> Void) throws -> Double {
        try body()
        var times: [Double] = []
        for _ in 0..<max(repeats, 1) {
            let start = nowSeconds()
            try body()
            times.append((nowSeconds() - start) * 1000)
        }
        times.sort()
        return times[times.count / 2]
    }
}

func nowSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func fmt(_ v: Double) -> String { String(format: v < 10 ? "%.2f" : "%.1f", v) }
func sci(_ v: Float) -> String { String(format: "%.1e", Double(v)) }

/// A plain-text table with aligned columns.
struct Table {
    let header: [String]
    var rows: [[String]] = []
    init(header: [String]) { self.header = header }
    mutating func add(_ row: [String]) { rows.append(row) }
    func render() -> String {
        let all = [header] + rows
        let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            r.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingTrailingSpaces()
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
                + rows.map(line)).joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
