import Benchmark
import SparseGlue

/// The multi-scale fusion block (projections, two attentions, orthogonal projection, MLP).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .peakMemoryResident, .mallocCountTotal],
        warmupIterations: 1, maxDuration: .seconds(2), maxIterations: 20)

    for n in [256, 512, 1024, 2048, 4096, 8192] {
        for k in [16, 32, 64] where k < n {
            Benchmark("fusion sparse n=\(n) k1=\(k / 4) k2=\(k) d=256") { benchmark, input in
                for _ in benchmark.scaledIterations {
                    blackHole(try input.fusion(input.x, senders: input.x, g1: input.pair.g1, g2: input.pair.g2,
                                               backend: .sparse))
                }
            } setup: { try FusionInput(n: n, k: k) }
        }
    }
}

struct FusionInput {
    let x: Matrix
    let pair: GraphPair
    let fusion: MultiScaleFusion

    init(n: Int, k: Int) throws {
        var rng = SeededGenerator(seed: 5)
        let points = try Matrix.uniform(rows: n, columns: 2, in: 0...640, using: &rng)
        x = try Matrix.gaussian(rows: n, columns: 256, using: &rng)
        pair = try GraphPair.nested(points: points, k1: k / 4, k2: k)
        fusion = try MultiScaleFusion(dimension: 256, heads: 4, generator: &rng)
    }
}
