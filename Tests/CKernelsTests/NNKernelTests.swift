import CKernels
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Tests of the dense kernels in CKernels/src/nn.c against naive double-precision loops.

/// Seeded SplitMix64, so every random matrix is reproducible.
fileprivate typealias NNRng = KernelTestRng

fileprivate extension KernelTestRng {
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    mutating func floats(_ n: Int, scale: Float = 1, offset: Float = 0) -> [Float] {
        (0..<n).map { _ in float() * scale + offset }
    }
}

fileprivate func close(_ a: Float, _ b: Double, tol: Double) -> Bool {
    abs(Double(a) - b) <= tol * Swift.max(1, abs(b))
}

fileprivate func matmul(_ ta: Int32, _ tb: Int32, _ M: Int, _ N: Int, _ K: Int, _ alpha: Float,
                        _ A: [Float], _ lda: Int, _ B: [Float], _ ldb: Int, _ beta: Float,
                        _ C: inout [Float], _ ldc: Int, threads: Int32 = 0) -> sg_status {
    A.withUnsafeBufferPointer { a in
        B.withUnsafeBufferPointer { b in
            C.withUnsafeMutableBufferPointer { c in
                sg_matmul(ta, tb, Int64(M), Int64(N), Int64(K), alpha, a.baseAddress, Int64(lda),
                          b.baseAddress, Int64(ldb), beta, c.baseAddress, Int64(ldc), threads)
            }
        }
    }
}

fileprivate func layerNorm(_ x: [Float], _ n: Int, _ d: Int, _ ldx: Int, gamma: [Float]?, beta: [Float]?,
                           eps: Float, ldy: Int, threads: Int32) -> (sg_status, [Float]) {
    var y = [Float](repeating: -9, count: n * ldy)
    let st = x.withUnsafeBufferPointer { xp in
        y.withUnsafeMutableBufferPointer { yp in
            withOptionalPointer(gamma) { g in
                withOptionalPointer(beta) { b in
                    sg_layer_norm(xp.baseAddress, Int64(n), Int64(d), Int64(ldx), g, b, eps,
                                  yp.baseAddress, Int64(ldy), threads)
                }
            }
        }
    }
    return (st, y)
}

fileprivate func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

fileprivate func fusion(_ f1: [Float], _ f2: [Float], _ n: Int, _ d: Int, _ ld: Int, eps: Float,
                        threads: Int32, wantCos: Bool = true) -> (sg_status, [Float], [Float]) {
    var g1 = [Float](repeating: -9, count: n * ld)
    var cos = [Float](repeating: -9, count: n)
    let st = f1.withUnsafeBufferPointer { a in
        f2.withUnsafeBufferPointer { b in
            g1.withUnsafeMutableBufferPointer { g in
                cos.withUnsafeMutableBufferPointer { c in
                    sg_orthogonal_fusion(a.baseAddress, b.baseAddress, Int64(n), Int64(d), Int64(ld), eps,
                                         g.baseAddress, wantCos ? c.baseAddress : nil, threads)
                }
            }
        }
    }
    return (st, g1, cos)
}

@Suite("NN kernels")
struct NNKernelTests {
    @Test(arguments: [(Int32(0), Int32(0)), (0, 1), (1, 0), (1, 1)])
    func matmulMatchesNaiveLoops(ta: Int32, tb: Int32) {
        var rng = NNRng(seed: 100 + UInt64(2 * ta + tb))
        let M = 7, N = 5, K = 9
        let (aRows, aCols) = ta == 0 ? (M, K) : (K, M)
        let (bRows, bCols) = tb == 0 ? (K, N) : (N, K)
        let lda = aCols + 2, ldb = bCols + 1, ldc = N + 3
        let A = rng.floats(aRows * lda), B = rng.floats(bRows * ldb)
        let C0 = rng.floats(M * ldc)
        var C = C0
        let alpha: Float = 0.7, beta: Float = -1.3
        #expect(matmul(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, &C, ldc) == SG_OK)
        for i in 0..<M {
            for j in 0..<N {
                var s = 0.0
                for p in 0..<K {
                    let a = ta == 0 ? A[i * lda + p] : A[p * lda + i]
                    let b = tb == 0 ? B[p * ldb + j] : B[j * ldb + p]
                    s += Double(a) * Double(b)
                }
                let expected = Double(alpha) * s + Double(beta) * Double(C0[i * ldc + j])
                #expect(close(C[i * ldc + j], expected, tol: 1e-5), "C[\(i),\(j)]")
            }
            for j in N..<ldc { #expect(C[i * ldc + j] == C0[i * ldc + j], "stride padding was touched") }
        }
    }

    /// Rows are split into fixed blocks of 128 (a partial last block here), one sgemm call each on
    /// OpenMP threads; with OpenBLAS single-threaded, 1 and 2 threads give identical bits.
    @Test func matmulRowBlocksAreThreadIndependent() {
        var rng = NNRng(seed: 77)
        let (M, N, K) = (300, 70, 45)
        let A = rng.floats(M * K), B = rng.floats(K * N)
        // The policy SparseGlue runs under; set, never toggled, since it is process-global.
        #expect(sg_blas_set_num_threads(1) == SG_OK)
        for ta: Int32 in [0, 1] {
            var c1 = [Float](repeating: 0, count: M * N), c2 = c1
            let lda = ta == 1 ? M : K
            #expect(matmul(ta, 0, M, N, K, 1, A, lda, B, N, 0, &c1, N, threads: 1) == SG_OK)
            #expect(matmul(ta, 0, M, N, K, 1, A, lda, B, N, 0, &c2, N, threads: 2) == SG_OK)
            #expect(c1 == c2)
            // and it is the right product (spot-check the last, partial block)
            var ref = 0.0
            for t in 0..<K { ref += Double(ta == 1 ? A[t * M + 299] : A[299 * K + t]) * Double(B[t * N + 5]) }
            #expect(close(c1[299 * N + 5], ref, tol: 1e-4))
        }
    }

    /// Thread counts out of range are refused (setters) or clamped (a kernel's n_threads), never
    /// passed on to OpenMP, which aborts when it cannot create the threads.
    @Test func threadCountsAreBounded() {
        #expect(sg_set_default_threads(0) == SG_ERR_SIZE)
        #expect(sg_set_default_threads(Int32(SG_MAX_THREADS) + 1) == SG_ERR_SIZE)
        #expect(sg_blas_set_num_threads(0) == SG_ERR_SIZE)
        #expect(sg_blas_set_num_threads(100_000) == SG_ERR_SIZE)
        let A = [Float](repeating: 1, count: 4 * 2), B = [Float](repeating: 2, count: 3 * 2)
        var C = [Float](repeating: 0, count: 4 * 3)
        #expect(sg_matmul(0, 1, 4, 3, 2, 1, A, 2, B, 2, 0, &C, 3, 100_000) == SG_OK)
        #expect(C.allSatisfy { $0 == 4 })
    }

    @Test func matmulRejectsBadArguments() {
        let A = [Float](repeating: 1, count: 64), B = A
        var C = A
        // M = 4, N = 3, K = 2 throughout.
        #expect(matmul(2, 0, 4, 3, 2, 1, A, 2, B, 3, 0, &C, 3) == SG_ERR_ARGUMENT)
        #expect(matmul(0, -1, 4, 3, 2, 1, A, 2, B, 3, 0, &C, 3) == SG_ERR_ARGUMENT)
        #expect(sg_matmul(0, 0, 4, 3, 2, 1, nil, 2, B, 3, 0, &C, 3, 0) == SG_ERR_NULL)
        #expect(matmul(0, 0, 0, 3, 2, 1, A, 2, B, 3, 0, &C, 3) == SG_ERR_SIZE)
        #expect(matmul(0, 0, 4, 3, -2, 1, A, 2, B, 3, 0, &C, 3) == SG_ERR_SIZE)
        #expect(matmul(0, 0, 1 << 31, 3, 2, 1, A, 2, B, 3, 0, &C, 3) == SG_ERR_SIZE)
        #expect(matmul(0, 0, 4, 3, 2, 1, A, 1, B, 3, 0, &C, 3) == SG_ERR_SHAPE)  // lda < K
        #expect(matmul(1, 0, 4, 3, 2, 1, A, 3, B, 3, 0, &C, 3) == SG_ERR_SHAPE)  // lda < M (transposed)
        #expect(matmul(1, 0, 4, 3, 2, 1, A, 4, B, 3, 0, &C, 3) == SG_OK)
        #expect(matmul(0, 0, 4, 3, 2, 1, A, 2, B, 2, 0, &C, 3) == SG_ERR_SHAPE)  // ldb < N
        #expect(matmul(0, 1, 4, 3, 2, 1, A, 2, B, 1, 0, &C, 3) == SG_ERR_SHAPE)  // ldb < K (transposed)
        #expect(matmul(0, 1, 4, 3, 2, 1, A, 2, B, 2, 0, &C, 3) == SG_OK)
        #expect(matmul(0, 0, 4, 3, 2, 1, A, 2, B, 3, 0, &C, 2) == SG_ERR_SHAPE)  // ldc < N
        #expect(matmul(0, 0, 4, 3, 2, .nan, A, 2, B, 3, 0, &C, 3) == SG_ERR_NONFINITE)
        #expect(matmul(0, 0, 4, 3, 2, 1, A, 2, B, 3, .infinity, &C, 3) == SG_ERR_NONFINITE)
        var badA = A
        badA[5] = .infinity  // row 2, column 1: inside op(A)
        #expect(matmul(0, 0, 4, 3, 2, 1, badA, 2, B, 3, 0, &C, 3) == SG_ERR_NONFINITE)
        var padA = A
        padA[2] = .nan  // stride padding (lda = 3 > K = 2) is never read
        #expect(matmul(0, 0, 4, 3, 2, 1, padA, 3, B, 3, 0, &C, 3) == SG_OK)
        // C is an input only when beta != 0.
        var nanC = [Float](repeating: .nan, count: 12)
        #expect(matmul(0, 0, 4, 3, 2, 1, A, 2, B, 3, 1, &nanC, 3) == SG_ERR_NONFINITE)
        #expect(matmul(0, 0, 4, 3, 2, 1, A, 2, B, 3, 0, &nanC, 3) == SG_OK)
        #expect(nanC.allSatisfy { $0 == 2 })
    }

    @Test func linearMatchesNaive() {
        var rng = NNRng(seed: 200)
        let n = 6, inDim = 5, outDim = 4, ldx = 7, ldy = 6
        let x = rng.floats(n * ldx), w = rng.floats(outDim * inDim), bias = rng.floats(outDim)
        for useBias in [false, true] {
            var y = [Float](repeating: -9, count: n * ldy)
            let st = x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    withOptionalPointer(useBias ? bias : nil) { bp in
                        y.withUnsafeMutableBufferPointer {
                            sg_linear(xp.baseAddress, Int64(n), Int64(inDim), Int64(ldx), wp.baseAddress, bp,
                                      Int64(outDim), $0.baseAddress, Int64(ldy), 0)
                        }
                    }
                }
            }
            #expect(st == SG_OK)
            for i in 0..<n {
                for o in 0..<outDim {
                    var s = useBias ? Double(bias[o]) : 0
                    for t in 0..<inDim { s += Double(x[i * ldx + t]) * Double(w[o * inDim + t]) }
                    #expect(close(y[i * ldy + o], s, tol: 1e-5), "y[\(i),\(o)] bias=\(useBias)")
                }
                for o in outDim..<ldy { #expect(y[i * ldy + o] == -9) }
            }
        }
    }

    @Test func linearRejectsBadArguments() {
        let x = [Float](repeating: 1, count: 12), w = [Float](repeating: 1, count: 12)
        var y = [Float](repeating: 0, count: 12)
        func call(_ x: [Float], _ w: [Float], _ bias: [Float]?, n: Int64 = 3, inDim: Int64 = 2,
                  ldx: Int64 = 2, outDim: Int64 = 3, ldy: Int64 = 3) -> sg_status {
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    withOptionalPointer(bias) { bp in
                        y.withUnsafeMutableBufferPointer {
                            sg_linear(xp.baseAddress, n, inDim, ldx, wp.baseAddress, bp, outDim, $0.baseAddress, ldy, 0)
                        }
                    }
                }
            }
        }
        #expect(call(x, w, nil) == SG_OK)
        #expect(y.prefix(9).allSatisfy { $0 == 2 })
        #expect(call(x, w, [1, 1, 1]) == SG_OK)
        #expect(y.prefix(9).allSatisfy { $0 == 3 })
        #expect(call(x, w, nil, n: 0) == SG_ERR_SIZE)
        #expect(call(x, w, nil, ldx: 1) == SG_ERR_SHAPE)
        #expect(call(x, w, nil, ldy: 2) == SG_ERR_SHAPE)
        var bad = x
        bad[3] = .nan
        #expect(call(bad, w, nil) == SG_ERR_NONFINITE)
        #expect(call(x, bad, nil) == SG_ERR_NONFINITE)
        #expect(call(x, w, [0, .infinity, 0]) == SG_ERR_NONFINITE)
        let st = w.withUnsafeBufferPointer { wp in
            y.withUnsafeMutableBufferPointer { sg_linear(nil, 3, 2, 2, wp.baseAddress, nil, 3, $0.baseAddress, 3, 0) }
        }
        #expect(st == SG_ERR_NULL)
    }

    @Test func layerNormNormalisesRows() {
        var rng = NNRng(seed: 300)
        let n = 5, d = 16, ldx = 18, ldy = 17
        let x = rng.floats(n * ldx, scale: 3, offset: 5)  // a large mean stresses cancellation
        let (st, y) = layerNorm(x, n, d, ldx, gamma: nil, beta: nil, eps: 1e-5, ldy: ldy, threads: 1)
        #expect(st == SG_OK)
        for i in 0..<n {
            let row = (0..<d).map { Double(y[i * ldy + $0]) }
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
            #expect(abs(mean) < 1e-5)
            #expect(abs(variance - 1) < 1e-3)
            #expect(y[i * ldy + d] == -9, "stride padding was touched")
        }
    }

    @Test func layerNormMatchesNaiveWithAffine() {
        var rng = NNRng(seed: 301)
        let n = 9, d = 12, ld = 12
        let x = rng.floats(n * ld, scale: 2), gamma = rng.floats(d, offset: 1), beta = rng.floats(d)
        let eps: Float = 1e-3
        let (st, y) = layerNorm(x, n, d, ld, gamma: gamma, beta: beta, eps: eps, ldy: ld, threads: 2)
        #expect(st == SG_OK)
        for i in 0..<n {
            let row = (0..<d).map { Double(x[i * ld + $0]) }
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
            for j in 0..<d {
                let e = (row[j] - mean) / (variance + Double(eps)).squareRoot() * Double(gamma[j]) + Double(beta[j])
                #expect(close(y[i * ld + j], e, tol: 1e-6), "y[\(i),\(j)]")
            }
        }
        // In place gives the same bits.
        var z = x
        let st2 = z.withUnsafeMutableBufferPointer { p in
            gamma.withUnsafeBufferPointer { g in
                beta.withUnsafeBufferPointer { b in
                    sg_layer_norm(p.baseAddress, Int64(n), Int64(d), Int64(ld), g.baseAddress, b.baseAddress, eps,
                                  p.baseAddress, Int64(ld), 1)
                }
            }
        }
        #expect(st2 == SG_OK)
        #expect(z == y)
        // In place with a different output stride would overwrite unread rows.
        let st3 = z.withUnsafeMutableBufferPointer { p in
            sg_layer_norm(p.baseAddress, 3, 4, 5, nil, nil, eps, p.baseAddress, 4, 1)
        }
        #expect(st3 == SG_ERR_SHAPE)
    }

    @Test func layerNormRejectsBadArguments() {
        let x = [Float](repeating: 1, count: 12)
        #expect(layerNorm(x, 3, 4, 4, gamma: nil, beta: nil, eps: 1e-5, ldy: 4, threads: 1).0 == SG_OK)
        #expect(layerNorm(x, 3, 4, 4, gamma: nil, beta: nil, eps: 1e-5, ldy: 4, threads: 1).1.allSatisfy { $0 == 0 })
        for eps: Float in [0, -1, .nan, .infinity] {
            #expect(layerNorm(x, 3, 4, 4, gamma: nil, beta: nil, eps: eps, ldy: 4, threads: 1).0 == SG_ERR_ARGUMENT)
        }
        #expect(layerNorm(x, 0, 4, 4, gamma: nil, beta: nil, eps: 1e-5, ldy: 4, threads: 1).0 == SG_ERR_SIZE)
        #expect(layerNorm(x, 3, 4, 3, gamma: nil, beta: nil, eps: 1e-5, ldy: 4, threads: 1).0 == SG_ERR_SHAPE)
        #expect(layerNorm(x, 3, 4, 4, gamma: nil, beta: nil, eps: 1e-5, ldy: 3, threads: 1).0 == SG_ERR_SHAPE)
        var bad = x
        bad[7] = -.infinity
        #expect(layerNorm(bad, 3, 4, 4, gamma: nil, beta: nil, eps: 1e-5, ldy: 4, threads: 1).0 == SG_ERR_NONFINITE)
        #expect(layerNorm(x, 3, 4, 4, gamma: [1, .nan, 1, 1], beta: nil, eps: 1e-5, ldy: 4, threads: 1).0 == SG_ERR_NONFINITE)
        #expect(layerNorm(x, 3, 4, 4, gamma: nil, beta: [0, 0, 0, .nan], eps: 1e-5, ldy: 4, threads: 1).0 == SG_ERR_NONFINITE)
        var y = x
        #expect(sg_layer_norm(nil, 3, 4, 4, nil, nil, 1e-5, &y, 4, 1) == SG_ERR_NULL)
    }

    @Test func activationsHaveKnownValues() {
        var relu: [Float] = [-2, -0.5, 0, 0.5, 3]
        #expect(sg_activate(&relu, 5, SG_ACT_RELU, 1) == SG_OK)
        #expect(relu == [0, 0, 0, 0.5, 3])
        let inputs: [Float] = [-3, -1, 0, 0.5, 1, 2]
        let expected: [Double] = [-0.0040496380, -0.1586552539, 0, 0.3457312306, 0.8413447461, 1.9544997361]
        var gelu = inputs
        #expect(sg_activate(&gelu, Int64(gelu.count), SG_ACT_GELU, 1) == SG_OK)
        for (g, e) in zip(gelu, expected) { #expect(abs(Double(g) - e) < 1e-6, "gelu -> \(g), expected \(e)") }
    }

    @Test func activationsAreThreadIndependentOnLargeInputs() {
        var rng = NNRng(seed: 400)
        let x = rng.floats(100_000, scale: 4)
        for act in [SG_ACT_RELU, SG_ACT_GELU] {
            var one = x, two = x
            #expect(sg_activate(&one, Int64(x.count), act, 1) == SG_OK)
            #expect(sg_activate(&two, Int64(x.count), act, 2) == SG_OK)
            #expect(one == two)
            for i in stride(from: 0, to: x.count, by: 997) {
                let v = Double(x[i])
                let e = act == SG_ACT_RELU ? Swift.max(v, 0) : 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
                #expect(abs(Double(one[i]) - e) < 1e-5)
            }
        }
    }

    @Test func activationsRejectBadArguments() {
        var x: [Float] = [1, .nan, 2]
        #expect(sg_activate(&x, 3, SG_ACT_RELU, 1) == SG_ERR_NONFINITE)
        #expect(sg_activate(&x, 1, sg_activation(rawValue: 7), 1) == SG_ERR_ARGUMENT)
        #expect(sg_activate(&x, -1, SG_ACT_GELU, 1) == SG_ERR_SIZE)
        #expect(sg_activate(nil, 0, SG_ACT_GELU, 1) == SG_OK)
        #expect(sg_activate(nil, 3, SG_ACT_GELU, 1) == SG_ERR_NULL)
    }

    @Test func rowNormsMatchNaive() {
        var rng = NNRng(seed: 500)
        let n = 11, d = 7, ld = 9
        var x = rng.floats(n * ld)
        x[0] = 3; x[1] = 4; for j in 2..<d { x[j] = 0 }
        var out = [Float](repeating: -1, count: n)
        let st = x.withUnsafeBufferPointer { xp in
            out.withUnsafeMutableBufferPointer { sg_row_norms(xp.baseAddress, Int64(n), Int64(d), Int64(ld), $0.baseAddress) }
        }
        #expect(st == SG_OK)
        #expect(out[0] == 5)
        for i in 0..<n {
            let e = (0..<d).map { Double(x[i * ld + $0]) * Double(x[i * ld + $0]) }.reduce(0, +).squareRoot()
            #expect(close(out[i], e, tol: 1e-6))
        }
        #expect(sg_row_norms(x, Int64(n), Int64(d), Int64(d - 1), &out) == SG_ERR_SHAPE)
        #expect(sg_row_norms(nil, Int64(n), Int64(d), Int64(ld), &out) == SG_ERR_NULL)
        x[ld + 2] = .nan
        #expect(sg_row_norms(x, Int64(n), Int64(d), Int64(ld), &out) == SG_ERR_NONFINITE)
    }

    @Test func orthogonalFusionRemovesTheF2Component() {
        var rng = NNRng(seed: 600)
        let n = 40, d = 24, ld = 26
        var f1 = rng.floats(n * ld, scale: 2), f2 = rng.floats(n * ld)
        for j in 0..<d {
            f2[3 * ld + j] = 0               // zero f2: g1 = f1, abs_cos = 0
            f1[4 * ld + j] = 0               // zero f1: g1 = 0, abs_cos = 0
            f1[5 * ld + j] = 2 * f2[5 * ld + j]   // parallel: abs_cos = 1, g1 ≈ 0
            f1[6 * ld + j] = -f2[6 * ld + j]      // anti-parallel
        }
        let eps: Float = 1e-6
        let (st, g1, cos) = fusion(f1, f2, n, d, ld, eps: eps, threads: 2)
        #expect(st == SG_OK)
        #expect(!g1.contains { $0.isNaN } && !cos.contains { $0.isNaN })
        for i in 0..<n {
            let a = (0..<d).map { Double(f1[i * ld + $0]) }, b = (0..<d).map { Double(f2[i * ld + $0]) }
            let g = (0..<d).map { Double(g1[i * ld + $0]) }
            func dot(_ u: [Double], _ v: [Double]) -> Double { zip(u, v).map(*).reduce(0, +) }
            let n1 = dot(a, a).squareRoot(), n2 = dot(b, b).squareRoot()
            #expect(abs(dot(g, b)) <= 1e-5 * n1 * n2 + 1e-30, "row \(i) not orthogonal to f2")
            let coef = dot(a, b) / (n2 * n2 + Double(eps))
            for j in 0..<d { #expect(abs(g[j] - (a[j] - coef * b[j])) <= 1e-6 * Swift.max(1, n1)) }
            let expectedCos = abs(dot(a, b)) / Swift.max(n1 * n2, Double(eps))
            #expect(cos[i] >= 0 && cos[i] <= 1)
            #expect(abs(Double(cos[i]) - expectedCos) < 1e-6, "abs_cos row \(i)")
            for j in d..<ld { #expect(g1[i * ld + j] == -9, "stride padding was touched") }
        }
        #expect((0..<d).allSatisfy { g1[3 * ld + $0] == f1[3 * ld + $0] })
        #expect(cos[3] == 0 && cos[4] == 0)
        #expect((0..<d).allSatisfy { g1[4 * ld + $0] == 0 })
        #expect(abs(cos[5] - 1) < 1e-6 && abs(cos[6] - 1) < 1e-6)
        #expect((0..<d).allSatisfy { abs(g1[5 * ld + $0]) < 1e-5 })

        // abs_cos is optional; g1 may overwrite f1.
        let (st2, g1NoCos, _) = fusion(f1, f2, n, d, ld, eps: eps, threads: 1, wantCos: false)
        #expect(st2 == SG_OK)
        #expect(g1NoCos == g1)
        var inPlace = f1
        let st3 = inPlace.withUnsafeMutableBufferPointer { p in
            f2.withUnsafeBufferPointer {
                sg_orthogonal_fusion(p.baseAddress, $0.baseAddress, Int64(n), Int64(d), Int64(ld), eps, p.baseAddress, nil, 1)
            }
        }
        #expect(st3 == SG_OK)
        for i in 0..<n { for j in 0..<d { #expect(inPlace[i * ld + j] == g1[i * ld + j]) } }
    }

    @Test func orthogonalFusionIsThreadIndependent() {
        var rng = NNRng(seed: 601)
        let n = 3000, d = 32
        let f1 = rng.floats(n * d), f2 = rng.floats(n * d)
        let one = fusion(f1, f2, n, d, d, eps: 1e-6, threads: 1)
        let two = fusion(f1, f2, n, d, d, eps: 1e-6, threads: 2)
        #expect(one.0 == SG_OK)
        #expect(one.1 == two.1 && one.2 == two.2)
    }

    @Test func orthogonalFusionRejectsBadArguments() {
        let f = [Float](repeating: 1, count: 12)
        #expect(fusion(f, f, 3, 4, 4, eps: 1e-6, threads: 1).0 == SG_OK)
        for eps: Float in [0, -1e-6, .nan, .infinity] {
            #expect(fusion(f, f, 3, 4, 4, eps: eps, threads: 1).0 == SG_ERR_ARGUMENT)
        }
        var bad = f
        bad[5] = .nan
        #expect(fusion(f, bad, 3, 4, 4, eps: 1e-6, threads: 1).0 == SG_ERR_NONFINITE)
        #expect(fusion(bad, f, 3, 4, 4, eps: 1e-6, threads: 1).0 == SG_ERR_NONFINITE)
        #expect(fusion(f, f, 3, 4, 3, eps: 1e-6, threads: 1).0 == SG_ERR_SHAPE)
        #expect(fusion(f, f, 0, 4, 4, eps: 1e-6, threads: 1).0 == SG_ERR_SIZE)
        var g = f
        #expect(sg_orthogonal_fusion(f, nil, 3, 4, 4, 1e-6, &g, nil, 1) == SG_ERR_NULL)
        #expect(sg_orthogonal_fusion(f, f, 3, 4, 4, 1e-6, nil, nil, 1) == SG_ERR_NULL)
    }
}
