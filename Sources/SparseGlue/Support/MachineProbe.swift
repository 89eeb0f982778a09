/// Measures this machine's roofs, so benchmark figures can be read as fractions of what the
/// hardware and BLAS can do in the same run.
public enum MachineProbe {
    /// Single-precision GEMM throughput in GFLOP/s: the median of `repeats` products of two
    /// `size × size` matrices, each one `cblas_sgemm` call on OpenBLAS's own threads (2·size³ flop):
    /// the best this machine's BLAS does, the roof kernels are compared against.
    public static func sgemmGFLOPS(size: Int = 2048, repeats: Int = 5, threads: Int = 0) throws -> (gflops: Double, medianMs: Double, minMs: Double, maxMs: Double) {
        try require(size >= 16 && repeats >= 1, "sgemm probe needs size ≥ 16 and repeats ≥ 1")
        var rng = SeededGenerator(seed: 17)
        let a = try Matrix.gaussian(rows: size, columns: size, using: &rng)
        let b = try Matrix.gaussian(rows: size, columns: size, using: &rng)
        var out = Matrix.zeros(size, size)
        try Kernels.probeSGEMM(a, b, into: &out, threads: threads)   // warm-up: BLAS threads start
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = monotonicSeconds()
            try Kernels.probeSGEMM(a, b, into: &out, threads: threads)
            times.append(monotonicSeconds() - start)
        }
        times.sort()
        let median = times[times.count / 2]
        return (2 * pow(Double(size), 3) / median / 1e9, median * 1000, times.first! * 1000, times.last! * 1000)
    }

    /// Streaming memory bandwidth in GB/s from the STREAM triad over three arrays of
    /// `megabytes` MB each (far larger than caches), best of `repeats`.
    public static func streamBandwidthGBs(megabytes: Int = 128, repeats: Int = 5, threads: Int = 0) throws -> Double {
        try require(megabytes >= 1 && repeats >= 1, "bandwidth probe needs ≥ 1 MB and ≥ 1 repeat")
        let n = megabytes * 1_048_576 / 4
        var a = [Float](repeating: 0, count: n)
        let b = [Float](repeating: 1, count: n), c = [Float](repeating: 2, count: n)
        try Kernels.streamTriad(&a, b, c, threads: threads)
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = monotonicSeconds()
            try Kernels.streamTriad(&a, b, c, threads: threads)
            best = min(best, monotonicSeconds() - start)
        }
        return 12 * Double(n) / best / 1e9
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
