import Benchmark
import SparseGlue

/// Graph construction: kNN → CSR, nested and disjoint pairs, symmetrisation.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(2), maxIterations: 20)

    for n in [256, 512, 1024, 2048, 4096, 8192] {
        for k in [8, 16, 32, 64] where k < n {
            Benchmark("csr knn graph n=\(n) k=\(k)") { benchmark, points in
                for _ in benchmark.scaledIterations { blackHole(try KNNGraph.build(points: points, k: k)) }
            } setup: { try positions(n) }
            Benchmark("nested pair n=\(n) k1=\(k / 4) k2=\(k)") { benchmark, points in
                for _ in benchmark.scaledIterations {
                    blackHole(try GraphPair.nested(points: points, k1: max(k / 4, 1), k2: k))
                }
            } setup: { try positions(n) }
            Benchmark("disjoint pair n=\(n) k1=\(k / 4) k2=\(k)") { benchmark, points in
                for _ in benchmark.scaledIterations {
                    blackHole(try GraphPair.disjoint(points: points, k1: max(k / 4, 1), k2: k))
                }
            } setup: { try positions(n) }
        }
    }
}

func positions(_ n: Int) throws -> Matrix {
    var rng = SeededGenerator(seed: 3)
    return try Matrix.uniform(rows: n, columns: 2, in: 0...640, using: &rng)
}
