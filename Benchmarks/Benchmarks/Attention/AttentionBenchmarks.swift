import Benchmark
import SparseGlue

/// Attention kernels on projected Q, K, V: dense (complete graph), masked-dense and sparse CSR on
/// kNN(k) graphs over 2-D positions.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(2), maxIterations: 20)

    // Distinct Q, K, V as a real layer has them.
    struct Input { let q, k, v: Matrix; let graphs: [Int: CSRGraph] }
    let heads = 4
    for d in [128, 256] {
        for n in [256, 512, 1024, 2048, 4096, 8192] {
            let ks = [8, 16, 32, 64].filter { $0 < n }
            let makeInput = { () throws -> Input in
                var rng = SeededGenerator(seed: 4)
                let points = try Matrix.uniform(rows: n, columns: 2, in: 0...640, using: &rng)
                let q = try Matrix.gaussian(rows: n, columns: d, using: &rng)
                let k = try Matrix.gaussian(rows: n, columns: d, using: &rng)
                let v = try Matrix.gaussian(rows: n, columns: d, using: &rng)
                var graphs = [Int: CSRGraph]()
                for k in ks { graphs[k] = try KNNGraph.build(points: points, k: k) }
                return Input(q: q, k: k, v: v, graphs: graphs)
            }
            Benchmark("dense n=\(n) d=\(d)") { benchmark, input in
                for _ in benchmark.scaledIterations {
                    blackHole(try AttentionOperator.apply(queries: input.q, keys: input.k, values: input.v, heads: heads,
                                                          graph: nil, backend: .dense))
                }
            } setup: { try makeInput() }
            for k in ks {
                Benchmark("sparse n=\(n) d=\(d) k=\(k)") { benchmark, input in
                    for _ in benchmark.scaledIterations {
                        blackHole(try AttentionOperator.apply(queries: input.q, keys: input.k, values: input.v,
                                                              heads: heads, graph: input.graphs[k], backend: .sparse))
                    }
                } setup: { try makeInput() }
                if n <= 4096 {   // the n×n mask grows fast; the CLI bench covers larger n
                    Benchmark("masked n=\(n) d=\(d) k=\(k)") { benchmark, input in
                        for _ in benchmark.scaledIterations {
                            blackHole(try AttentionOperator.apply(queries: input.q, keys: input.k, values: input.v,
                                                                  heads: heads, graph: input.graphs[k], backend: .masked))
                        }
                    } setup: { try makeInput() }
                }
            }
        }
    }
}
