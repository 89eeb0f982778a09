import Benchmark
import SparseGlue

/// k-NN kernels: 2-D positions (grid) and descriptors (GEMM tiles + exact re-rank).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(2), maxIterations: 20)

    for n in [256, 512, 1024, 2048, 4096, 8192] {
        for k in [8, 16, 32, 64] where k < n {
            Benchmark("knn2d n=\(n) k=\(k)") { benchmark, points in
                for _ in benchmark.scaledIterations {
                    blackHole(try KNNGraph.neighbors(of: points, among: points, k: k, excludingSelf: true))
                }
            } setup: {
                var rng = SeededGenerator(seed: 1)
                return try Matrix.uniform(rows: n, columns: 2, in: 0...640, using: &rng)
            }
        }
        for d in [128, 256] {
            Benchmark("knndesc n=\(n) d=\(d) k=32") { benchmark, points in
                for _ in benchmark.scaledIterations {
                    blackHole(try KNNGraph.neighbors(of: points, among: points, k: 32, excludingSelf: true))
                }
            } setup: {
                var rng = SeededGenerator(seed: 2)
                return try Matrix.gaussian(rows: n, columns: d, using: &rng)
            }
        }
    }
}
