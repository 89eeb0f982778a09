import CKernels
import Testing

// Tests of the attention kernels in CKernels/src/attention.c (sparse, dense, masked) and their
// reference twin in CKernels/src/reference.c.
//
// Error measure, used throughout unless a test says otherwise: for outputs a (kernel) and
// b (reference), relErr = max_i |a_i - b_i| / max(max_i |b_i|, 1e-3) — the largest absolute error
// relative to the output's scale. Attention outputs are convex combinations of V rows, so their
// scale is that of V (here about 1); the 1e-3 floor only matters for all-zero outputs.

/// Seeded SplitMix64, so every random input is reproducible.
fileprivate typealias AttnRng = KernelTestRng

fileprivate extension KernelTestRng {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    /// An n x cols matrix with row stride ld; the padding between rows holds `pad`.
    mutating func matrix(_ n: Int, _ cols: Int, ld: Int, pad: Float = 0) -> [Float] {
        var x = [Float](repeating: pad, count: n * ld)
        for i in 0..<n { for j in 0..<cols { x[i * ld + j] = float() } }
        return x
    }
}

fileprivate struct AttnGraph {
    var n: Int
    var m: Int
    var rowPtr: [Int64]
    var colIdx: [Int32]
    var nnz: Int { Int(rowPtr[n]) }

    init(n: Int, m: Int, rows: [[Int32]]) {
        self.n = n
        self.m = m
        rowPtr = [0]
        colIdx = []
        for r in rows {
            colIdx += r
            rowPtr.append(Int64(colIdx.count))
        }
    }

    static func complete(n: Int, m: Int) -> AttnGraph {
        AttnGraph(n: n, m: m, rows: (0..<n).map { _ in (0..<m).map { Int32($0) } })
    }

    /// kNN-like: each row gets a random degree in 0...maxDegree (capped at m) of distinct sorted
    /// columns; about one row in `emptyEvery` is forced empty.
    static func random(_ rng: inout AttnRng, n: Int, m: Int, maxDegree: Int,
                       emptyEvery: Int = 7) -> AttnGraph {
        var rows: [[Int32]] = []
        for _ in 0..<n {
            let deg = rng.int(emptyEvery) == 0 ? 0 : rng.int(Swift.min(maxDegree, m) + 1)
            var set = Set<Int32>()
            while set.count < deg { set.insert(Int32(rng.int(m))) }
            rows.append(set.sorted())
        }
        return AttnGraph(n: n, m: m, rows: rows)
    }

    /// Row-major byte mask with stride ldm; the padding columns hold 1 so that a kernel reading
    /// past column m - 1 would be caught.
    func mask(ldm: Int) -> [UInt8] {
        var mk = [UInt8](repeating: 0, count: n * ldm)
        for i in 0..<n {
            for j in m..<ldm { mk[i * ldm + j] = 1 }
            for e in Int(rowPtr[i])..<Int(rowPtr[i + 1]) { mk[i * ldm + Int(colIdx[e])] = 1 }
        }
        return mk
    }
}

/// One attention problem: inputs with their strides.
fileprivate struct AttnProblem {
    var n: Int, m: Int, d: Int, heads: Int
    var ldq: Int, ldk: Int, ldv: Int, ldo: Int
    var q: [Float], k: [Float], v: [Float]
    var scale: Float

    init(_ rng: inout AttnRng, n: Int, m: Int, d: Int, heads: Int, pad: (Int, Int, Int, Int) = (0, 0, 0, 0),
         padValue: Float = 0, scale: Float? = nil) {
        self.n = n; self.m = m; self.d = d; self.heads = heads
        ldq = d + pad.0; ldk = d + pad.1; ldv = d + pad.2; ldo = d + pad.3
        q = rng.matrix(n, d, ld: ldq, pad: padValue)
        k = rng.matrix(m, d, ld: ldk, pad: padValue)
        v = rng.matrix(m, d, ld: ldv, pad: padValue)
        // Scores of about +-3 over random rows: softmax weights far from uniform and from one-hot.
        self.scale = scale ?? 3 / Float(d / heads).squareRoot()
    }

    func sparse(_ g: AttnGraph, weights: Bool = false, threads: Int32 = 0,
                outFill: Float = 0) -> (sg_status, [Float], [Float]) {
        call(g, weights: weights, outFill: outFill) { q, k, v, rp, cp, o, w in
            sg_attention_sparse(q, Int64(n), Int64(ldq), k, Int64(ldk), v, Int64(ldv), Int64(m), Int64(d),
                                Int64(heads), scale, rp, cp, o, Int64(ldo), w, threads)
        }
    }

    func reference(_ g: AttnGraph, weights: Bool = false) -> (sg_status, [Float], [Float]) {
        call(g, weights: weights, outFill: 0) { q, k, v, rp, cp, o, w in
            sg_attention_sparse_ref(q, Int64(n), Int64(ldq), k, Int64(ldk), v, Int64(ldv), Int64(m), Int64(d),
                                    Int64(heads), scale, rp, cp, o, Int64(ldo), w)
        }
    }

    /// Runs `kernel` (the sparse kernel or its reference twin) on this case's buffers and `g`.
    private func call(
        _ g: AttnGraph, weights: Bool, outFill: Float,
        _ kernel: (UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Float>?, UnsafePointer<Int64>?,
                   UnsafePointer<Int32>?, UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Float>?) -> sg_status
    ) -> (sg_status, [Float], [Float]) {
        var o = [Float](repeating: outFill, count: Swift.max(n * ldo, 1)) // never empty: n = 0 tests want SIZE, not NULL
        var w = [Float](repeating: -1, count: weights ? g.nnz * heads : 0)
        let st = q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    g.rowPtr.withUnsafeBufferPointer { rp in
                        g.colIdx.withUnsafeBufferPointer { cp in
                            o.withUnsafeMutableBufferPointer { op in
                                w.withUnsafeMutableBufferPointer { wp in
                                    kernel(qp.baseAddress, kp.baseAddress, vp.baseAddress, rp.baseAddress,
                                           cp.baseAddress, op.baseAddress, weights ? wp.baseAddress : nil)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (st, o, w)
    }

    func dense(threads: Int32 = 0, outFill: Float = 0) -> (sg_status, [Float]) {
        var o = [Float](repeating: outFill, count: Swift.max(n * ldo, 1)) // never empty: n = 0 tests want SIZE, not NULL
        let st = q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    o.withUnsafeMutableBufferPointer { op in
                        sg_attention_dense(qp.baseAddress, Int64(n), Int64(ldq), kp.baseAddress, Int64(ldk),
                                           vp.baseAddress, Int64(ldv), Int64(m), Int64(d), Int64(heads),
                                           scale, op.baseAddress, Int64(ldo), threads)
                    }
                }
            }
        }
        return (st, o)
    }

    func masked(_ mask: [UInt8], ldm: Int, threads: Int32 = 0, outFill: Float = 0) -> (sg_status, [Float]) {
        var o = [Float](repeating: outFill, count: Swift.max(n * ldo, 1)) // never empty: n = 0 tests want SIZE, not NULL
        let st = q.withUnsafeBufferPointer { qp in
            k.withUnsafeBufferPointer { kp in
                v.withUnsafeBufferPointer { vp in
                    mask.withUnsafeBufferPointer { mp in
                        o.withUnsafeMutableBufferPointer { op in
                            sg_attention_masked(qp.baseAddress, Int64(n), Int64(ldq), kp.baseAddress,
                                                Int64(ldk), vp.baseAddress, Int64(ldv), Int64(m), Int64(d),
                                                Int64(heads), scale, mp.baseAddress, Int64(ldm),
                                                op.baseAddress, Int64(ldo), threads)
                        }
                    }
                }
            }
        }
        return (st, o)
    }

    /// The n x d block of a strided output (drops the padding).
    func rows(_ o: [Float]) -> [Float] {
        (0..<n).flatMap { i in o[(i * ldo)..<(i * ldo + d)] }
    }
}

/// max |a - b| / max(max |b|, 1e-3), see the top of the file.
fileprivate func relErr(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 1e-3
    for i in 0..<a.count {
        num = Swift.max(num, abs(Double(a[i]) - Double(b[i])))
        den = Swift.max(den, abs(Double(b[i])))
    }
    return a.isEmpty ? 0 : num / den
}

fileprivate func allFinite(_ x: [Float]) -> Bool { x.allSatisfy { $0.isFinite } }

/// Bit-for-bit equality (NaN payloads aside), as a Bool so that a failure does not print the arrays.
fileprivate func identical(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// Shapes covering all sparse code paths: four heads with d = 64, 128, 256 (the packed path), dh a
/// multiple of 16 otherwise (per-head SIMD path, with the constant-dh specialisations
/// 16/32/64/128, the runtime-dh form for 48 and the spill form for 160) and the generic path
/// (dh = 1, 5, 24).
fileprivate let attnShapes: [(d: Int, heads: Int)] = [
    (256, 4), (64, 4), (128, 4), (64, 2), (48, 1), (256, 2), (160, 1), (8, 8), (20, 4), (48, 2),
]

@Suite("Attention kernels")
struct AttentionKernelTests {

    @Test("sparse attention on the complete graph equals dense attention")
    func sparseCompleteEqualsDense() {
        var rng = AttnRng(seed: 1)
        for (d, heads) in attnShapes {
            for (n, m) in [(37, 53), (64, 16), (1, 1), (300, 9)] {
                let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
                let g = AttnGraph.complete(n: n, m: m)
                let (s1, sparse, _) = p.sparse(g)
                let (s2, dense) = p.dense()
                #expect(s1 == SG_OK)
                #expect(s2 == SG_OK)
                let err = relErr(sparse, dense)
                #expect(err <= 1e-5, "d=\(d) heads=\(heads) n=\(n) m=\(m): relErr \(err)")
            }
        }
    }

    @Test("sparse attention matches the double-precision reference on random graphs")
    func sparseMatchesReference() {
        var rng = AttnRng(seed: 2)
        for (d, heads) in attnShapes {
            for (n, m, maxDeg) in [(50, 50, 40), (80, 300, 70), (33, 7, 7), (40, 1000, 16)] {
                let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
                let g = AttnGraph.random(&rng, n: n, m: m, maxDegree: maxDeg)
                let (s1, o, _) = p.sparse(g, outFill: .nan)
                let (s2, r, _) = p.reference(g)
                #expect(s1 == SG_OK)
                #expect(s2 == SG_OK)
                let err = relErr(o, r)
                #expect(err <= 1e-5, "d=\(d) heads=\(heads) n=\(n) m=\(m): relErr \(err)")
                // Empty rows are exact zeros (the output was pre-filled with NaN).
                for i in 0..<n where g.rowPtr[i] == g.rowPtr[i + 1] {
                    #expect(o[(i * d)..<(i * d + d)].allSatisfy { $0 == 0 }, "row \(i)")
                }
            }
        }
    }

    @Test("rows whose running max grows at every edge (online-softmax rescaling)")
    func increasingScores() {
        // K rows are multiples of q's direction, so row 0's scores rise along the row (every step
        // raises the max and rescales the accumulator) and row 1's (q negated) fall (the max comes
        // first); row 2 takes every third column.
        let n = 3, m = 70, d = 64, heads = 2
        var rng = AttnRng(seed: 3)
        var p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads, scale: 0.5)
        for i in 0..<n { for t in 0..<d { p.q[i * d + t] = i == 1 ? -0.25 : 0.25 } }
        for j in 0..<m { for t in 0..<d { p.k[j * d + t] = Float(j) / Float(m) } }
        let rows: [[Int32]] = [(0..<Int32(m)).map { $0 }, (0..<Int32(m)).map { $0 },
                               stride(from: 0, to: Int32(m), by: 3).map { $0 }]
        let g = AttnGraph(n: n, m: m, rows: rows)
        let (s1, o, w) = p.sparse(g, weights: true)
        let (s2, r, rw) = p.reference(g, weights: true)
        #expect(s1 == SG_OK && s2 == SG_OK)
        #expect(relErr(o, r) <= 1e-5)
        #expect(relErr(w, rw) <= 1e-5)
    }

    @Test("softmax weights sum to 1 per row and head and match the reference")
    func weightsSumToOne() {
        var rng = AttnRng(seed: 4)
        for (d, heads) in attnShapes {
            let n = 60, m = 90
            let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
            let g = AttnGraph.random(&rng, n: n, m: m, maxDegree: 50)
            let (s1, o, w) = p.sparse(g, weights: true)
            let (s2, r, rw) = p.reference(g, weights: true)
            let (s3, o2, _) = p.sparse(g, weights: false)
            #expect(s1 == SG_OK && s2 == SG_OK && s3 == SG_OK)
            #expect(identical(o, o2), "asking for weights must not change the output")
            #expect(relErr(o, r) <= 1e-5)
            var worstSum = 0.0, worstW = 0.0
            for i in 0..<n {
                let lo = Int(g.rowPtr[i]), hi = Int(g.rowPtr[i + 1])
                if lo == hi { continue }
                for h in 0..<heads {
                    var s = 0.0
                    for e in lo..<hi {
                        let x = w[e * heads + h]
                        #expect(x >= 0 && x <= 1)
                        s += Double(x)
                        worstW = Swift.max(worstW, abs(Double(x) - Double(rw[e * heads + h])))
                    }
                    worstSum = Swift.max(worstSum, abs(s - 1))
                }
            }
            #expect(worstSum <= 1e-5, "d=\(d) heads=\(heads): |sum - 1| = \(worstSum)")
            #expect(worstW <= 1e-6, "d=\(d) heads=\(heads): max |w - w_ref| = \(worstW)")
        }
    }

    @Test("masked dense attention equals sparse attention on the same graph")
    func maskedEqualsSparse() {
        var rng = AttnRng(seed: 5)
        for (d, heads) in attnShapes {
            for (n, m) in [(45, 70), (300, 20), (10, 500)] {
                let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
                let g = AttnGraph.random(&rng, n: n, m: m, maxDegree: 40, emptyEvery: 5)
                let ldm = m + 5
                let (s1, o, _) = p.sparse(g)
                let (s2, mo) = p.masked(g.mask(ldm: ldm), ldm: ldm, outFill: .nan)
                #expect(s1 == SG_OK && s2 == SG_OK)
                #expect(allFinite(mo), "fully masked rows must give zeros, not NaN")
                let err = relErr(mo, o)
                #expect(err <= 1e-5, "d=\(d) heads=\(heads) n=\(n) m=\(m): relErr \(err)")
                for i in 0..<n where g.rowPtr[i] == g.rowPtr[i + 1] {
                    #expect(mo[(i * d)..<(i * d + d)].allSatisfy { $0 == 0 }, "row \(i)")
                }
            }
        }
    }

    @Test("masked attention with an all-ones mask equals dense attention")
    func maskedAllOnesEqualsDense() {
        var rng = AttnRng(seed: 6)
        let p = AttnProblem(&rng, n: 70, m: 33, d: 64, heads: 4)
        let (s1, dense) = p.dense()
        let (s2, masked) = p.masked([UInt8](repeating: 7, count: 70 * 33), ldm: 33)
        #expect(s1 == SG_OK && s2 == SG_OK)
        #expect(relErr(masked, dense) <= 1e-6)
    }

    @Test("cross-attention (n != m) against the reference")
    func crossAttention() {
        var rng = AttnRng(seed: 7)
        for (n, m) in [(5, 400), (400, 5), (1, 300), (257, 1)] {
            let p = AttnProblem(&rng, n: n, m: m, d: 64, heads: 4)
            let full = AttnGraph.complete(n: n, m: m)
            let (s1, r, _) = p.reference(full)
            let (s2, dense) = p.dense()
            let (s3, sparse, _) = p.sparse(full)
            let (s4, masked) = p.masked([UInt8](repeating: 1, count: n * m), ldm: m)
            #expect(s1 == SG_OK && s2 == SG_OK && s3 == SG_OK && s4 == SG_OK)
            #expect(relErr(dense, r) <= 1e-5, "n=\(n) m=\(m)")
            #expect(relErr(sparse, r) <= 1e-5, "n=\(n) m=\(m)")
            #expect(relErr(masked, r) <= 1e-5, "n=\(n) m=\(m)")
        }
    }

    @Test("strided inputs and outputs: padding is neither read nor written")
    func stridedInputs() {
        for (d, heads) in [(64, 4), (20, 4)] {
            let n = 40, m = 60
            var rng = AttnRng(seed: 8)
            // NaN in every padding gap: a kernel that reads (or finiteness-checks) padding fails.
            let strided = AttnProblem(&rng, n: n, m: m, d: d, heads: heads, pad: (3, 5, 1, 7),
                                      padValue: .nan)
            var rng2 = AttnRng(seed: 8)
            let packed = AttnProblem(&rng2, n: n, m: m, d: d, heads: heads)
            let g = AttnGraph.random(&rng, n: n, m: m, maxDegree: 30)
            let sentinel: Float = 12345
            let (s1, so, sw) = strided.sparse(g, weights: true, outFill: sentinel)
            let (s2, po, pw) = packed.sparse(g, weights: true)
            #expect(s1 == SG_OK && s2 == SG_OK)
            #expect(identical(strided.rows(so), po), "sparse: same arithmetic, so bit-identical")
            #expect(identical(sw, pw))
            let (s3, sd) = strided.dense(outFill: sentinel)
            let (s4, pd) = packed.dense()
            #expect(s3 == SG_OK && s4 == SG_OK)
            #expect(relErr(strided.rows(sd), pd) <= 1e-6)
            let ldm = m + 2
            let (s5, sm) = strided.masked(g.mask(ldm: ldm), ldm: ldm, outFill: sentinel)
            #expect(s5 == SG_OK)
            #expect(relErr(strided.rows(sm), po) <= 1e-5)
            let (_, r, _) = packed.reference(g)
            #expect(relErr(po, r) <= 1e-5)
            for o in [so, sd, sm] {
                for i in 0..<n {
                    #expect(o[(i * strided.ldo + d)..<(i * strided.ldo + strided.ldo)].allSatisfy { $0 == sentinel })
                }
            }
        }
    }

    @Test("results do not depend on the thread count")
    func threadCountIndependence() {
        // Dense and masked run their sgemm calls inside OpenMP tasks; the policy they are built
        // for (and SparseGlue's Swift layer sets) is single-threaded OpenBLAS. Set, never toggled.
        #expect(sg_blas_set_num_threads(1) == SG_OK)
        var rng = AttnRng(seed: 9)
        for (d, heads) in [(256, 4), (20, 4)] {
            let n = 700, m = 500
            let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
            let g = AttnGraph.random(&rng, n: n, m: m, maxDegree: 64)
            let (_, o1, w1) = p.sparse(g, weights: true, threads: 1)
            let mask = g.mask(ldm: m)
            let (_, d1) = p.dense(threads: 1)
            let (_, m1) = p.masked(mask, ldm: m, threads: 1)
            for t: Int32 in [2, 3, 0] {
                let (st, o, w) = p.sparse(g, weights: true, threads: t)
                #expect(st == SG_OK)
                #expect(identical(o, o1), "sparse, \(t) threads")
                #expect(identical(w, w1), "weights, \(t) threads")
                #expect(identical(p.dense(threads: t).1, d1), "dense, \(t) threads")
                #expect(identical(p.masked(mask, ldm: m, threads: t).1, m1), "masked, \(t) threads")
            }
        }
    }

    @Test("rows longer than one softmax block (rescaled between blocks) mixed with short and empty rows")
    func longRows() {
        var rng = AttnRng(seed: 12)
        for (d, heads) in [(64, 4), (256, 4), (64, 2), (20, 4)] {
            let n = 90, m = 700
            let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
            // Degrees from 0 to m: rows of 1..3 blocks of 256 edges among k-NN-sized ones.
            var rows: [[Int32]] = []
            for i in 0..<n {
                let deg = i % 9 == 0 ? 0 : i % 4 == 0 ? 257 + rng.int(m - 257) : 1 + rng.int(40)
                var set = Set<Int32>()
                while set.count < deg { set.insert(Int32(rng.int(m))) }
                rows.append(set.sorted())
            }
            let g = AttnGraph(n: n, m: m, rows: rows)
            let (s1, o1, w1) = p.sparse(g, weights: true, threads: 1, outFill: .nan)
            let (s2, r, rw) = p.reference(g, weights: true)
            #expect(s1 == SG_OK && s2 == SG_OK)
            #expect(relErr(o1, r) <= 1e-5, "d=\(d) heads=\(heads)")
            #expect(relErr(w1, rw) <= 1e-5, "d=\(d) heads=\(heads)")
            for t: Int32 in [2, 3] {
                let (st, o, w) = p.sparse(g, weights: true, threads: t)
                #expect(st == SG_OK && identical(o, o1) && identical(w, w1), "\(t) threads")
            }
        }
    }

    @Test("long runs of empty rows between short rows (tiles are bounded in rows, not only in scores)")
    func emptyRuns() {
        var rng = AttnRng(seed: 13)
        for (d, heads) in [(64, 4), (64, 2)] {
            let n = 400, m = 50
            let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
            var rows: [[Int32]] = []
            for i in 0..<n {
                let deg: Int32 = (i / 100) % 2 == 0 ? 0 : Int32(1 + i % 7)
                rows.append((0..<deg).map { (c: Int32) -> Int32 in c * 7 })
            }
            let g = AttnGraph(n: n, m: m, rows: rows)
            let (s1, o, w) = p.sparse(g, weights: true, threads: 1, outFill: .nan)
            let (s2, r, rw) = p.reference(g, weights: true)
            #expect(s1 == SG_OK && s2 == SG_OK)
            #expect(relErr(o, r) <= 1e-5 && relErr(w, rw) <= 1e-5, "d=\(d) heads=\(heads)")
            let (_, o2, w2) = p.sparse(g, weights: true, threads: 2)
            #expect(identical(o, o2) && identical(w, w2))
        }
    }

    @Test("extreme scores give finite outputs and weights")
    func extremeScores() {
        var rng = AttnRng(seed: 10)
        let n = 30, m = 40, d = 64, heads = 4
        for scale: Float in [1e4, 1e30, -1e30, 3e38] {
            var p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads, scale: scale)
            if scale > 1e20 { for i in 0..<p.q.count { p.q[i] *= 1e6 } } // dot products overflow too
            let g = AttnGraph.random(&rng, n: n, m: m, maxDegree: 40)
            let (s1, o, w) = p.sparse(g, weights: true)
            let (s2, dense) = p.dense()
            let (s3, masked) = p.masked(g.mask(ldm: m), ldm: m)
            #expect(s1 == SG_OK && s2 == SG_OK && s3 == SG_OK)
            #expect(allFinite(o) && allFinite(w) && allFinite(dense) && allFinite(masked), "scale \(scale)")
            // Convex combinations of V rows stay within V's range.
            let vmax = p.v.map { abs($0) }.max()!
            #expect(o.allSatisfy { abs($0) <= vmax * 1.0001 })
            #expect(dense.allSatisfy { abs($0) <= vmax * 1.0001 })
            #expect(masked.allSatisfy { abs($0) <= vmax * 1.0001 })
            for i in 0..<n where g.rowPtr[i] < g.rowPtr[i + 1] {
                for h in 0..<heads {
                    let s = (Int(g.rowPtr[i])..<Int(g.rowPtr[i + 1])).reduce(0.0) { $0 + Double(w[$1 * heads + h]) }
                    #expect(abs(s - 1) <= 1e-5)
                }
            }
            if scale == 1e4 {
                // No overflow yet: still comparable with the double-precision reference.
                let (_, r, _) = p.reference(g)
                #expect(relErr(o, r) <= 1e-4)
                #expect(relErr(masked, o) <= 1e-4)
            }
        }
    }

    @Test("invalid inputs are rejected with the documented status")
    func invalidInputs() {
        var rng = AttnRng(seed: 11)
        let n = 6, m = 5, d = 8, heads = 2
        let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
        let g = AttnGraph.random(&rng, n: n, m: m, maxDegree: 4, emptyEvery: 1000)
        #expect(p.sparse(g).0 == SG_OK)

        func sparseStatus(_ q: AttnProblem, _ g: AttnGraph) -> sg_status {
            // The output must stay untouched when a call fails (this implementation validates
            // everything before writing).
            let (st, o, w) = q.sparse(g, weights: true, outFill: 42)
            if st != SG_OK {
                #expect(o.allSatisfy { $0 == 42 } && w.allSatisfy { $0 == -1 })
                #expect(q.reference(g).0 == st, "the reference rejects the same input")
            }
            return st
        }

        var bad = p
        bad.q[3] = .nan
        #expect(sparseStatus(bad, g) == SG_ERR_NONFINITE)
        #expect(bad.dense().0 == SG_ERR_NONFINITE)
        #expect(bad.masked(g.mask(ldm: m), ldm: m).0 == SG_ERR_NONFINITE)
        bad = p
        bad.k[d * m - 1] = .infinity
        #expect(sparseStatus(bad, g) == SG_ERR_NONFINITE)
        bad = p
        bad.v[0] = -.infinity
        #expect(sparseStatus(bad, g) == SG_ERR_NONFINITE)
        #expect(bad.dense().0 == SG_ERR_NONFINITE)
        bad = p
        bad.scale = .nan
        #expect(sparseStatus(bad, g) == SG_ERR_NONFINITE)
        #expect(bad.dense().0 == SG_ERR_NONFINITE)
        bad.scale = .infinity
        #expect(sparseStatus(bad, g) == SG_ERR_NONFINITE)

        // Shapes.
        bad = p
        bad.heads = 3 // does not divide d = 8
        #expect(sparseStatus(bad, g) == SG_ERR_SHAPE)
        #expect(bad.dense().0 == SG_ERR_SHAPE)
        #expect(bad.masked(g.mask(ldm: m), ldm: m).0 == SG_ERR_SHAPE)
        bad.heads = 16 // more heads than features
        #expect(sparseStatus(bad, g) == SG_ERR_SHAPE)
        bad.heads = 0
        #expect(sparseStatus(bad, g) == SG_ERR_SIZE)
        bad = p
        bad.ldq = d - 1
        #expect(bad.dense().0 == SG_ERR_SHAPE)
        #expect(sparseStatus(bad, g) == SG_ERR_SHAPE)
        bad = p
        bad.ldo = d - 1
        #expect(sparseStatus(bad, g) == SG_ERR_SHAPE)
        #expect(p.masked(g.mask(ldm: m), ldm: m - 1).0 == SG_ERR_SHAPE, "ldm < m")

        // Sizes: n = 0 and m = 0 (with buffers that are large enough for the valid problem).
        bad = p
        bad.n = 0
        #expect(bad.dense().0 == SG_ERR_SIZE)
        #expect(bad.sparse(AttnGraph(n: 0, m: m, rows: [])).0 == SG_ERR_SIZE)
        bad = p
        bad.m = 0
        #expect(bad.dense().0 == SG_ERR_SIZE)
        bad = p
        bad.d = 0
        #expect(bad.dense().0 == SG_ERR_SIZE)

        // Malformed CSR graphs.
        func graph(_ rowPtr: [Int64], _ colIdx: [Int32]) -> AttnGraph {
            var h = g
            h.rowPtr = rowPtr
            h.colIdx = colIdx
            return h
        }
        let rp = [Int64(0), 2, 3, 3, 5, 6, 7], ci: [Int32] = [0, 3, 1, 2, 4, 0, 4]
        #expect(sparseStatus(p, graph(rp, ci)) == SG_OK)
        #expect(sparseStatus(p, graph([0, 2, 1, 3, 5, 6, 7], ci)) == SG_ERR_GRAPH, "non-monotone row_ptr")
        #expect(sparseStatus(p, graph([1, 2, 3, 3, 5, 6, 7], ci)) == SG_ERR_GRAPH, "row_ptr[0] != 0")
        #expect(sparseStatus(p, graph(rp, [3, 0, 1, 2, 4, 0, 4])) == SG_ERR_GRAPH, "unsorted columns")
        #expect(sparseStatus(p, graph(rp, [0, 0, 1, 2, 4, 0, 4])) == SG_ERR_GRAPH, "duplicate columns")
        #expect(sparseStatus(p, graph(rp, [0, 5, 1, 2, 4, 0, 4])) == SG_ERR_GRAPH, "column == m")
        #expect(sparseStatus(p, graph(rp, [0, 3, -1, 2, 4, 0, 4])) == SG_ERR_GRAPH, "negative column")
    }

    @Test("NULL pointers are rejected")
    func nullPointers() {
        var rng = AttnRng(seed: 12)
        let n = 4, m = 4, d = 8, heads = 2
        let p = AttnProblem(&rng, n: n, m: m, d: d, heads: heads)
        let g = AttnGraph.complete(n: n, m: m)
        let mask = [UInt8](repeating: 1, count: n * m)
        var o = [Float](repeating: 0, count: n * d)
        p.q.withUnsafeBufferPointer { q in
            p.k.withUnsafeBufferPointer { k in
                p.v.withUnsafeBufferPointer { v in
                    g.rowPtr.withUnsafeBufferPointer { rp in
                        g.colIdx.withUnsafeBufferPointer { ci in
                            mask.withUnsafeBufferPointer { mk in
                                o.withUnsafeMutableBufferPointer { op in
                                    let Q = q.baseAddress, K = k.baseAddress, V = v.baseAddress
                                    let RP = rp.baseAddress, CI = ci.baseAddress, O = op.baseAddress
                                    let N = Int64(n), M = Int64(m), D = Int64(d), H = Int64(heads)
                                    #expect(sg_attention_sparse(nil, N, D, K, D, V, D, M, D, H, 1, RP, CI, O, D, nil, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_sparse(Q, N, D, nil, D, V, D, M, D, H, 1, RP, CI, O, D, nil, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_sparse(Q, N, D, K, D, nil, D, M, D, H, 1, RP, CI, O, D, nil, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_sparse(Q, N, D, K, D, V, D, M, D, H, 1, nil, CI, O, D, nil, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_sparse(Q, N, D, K, D, V, D, M, D, H, 1, RP, nil, O, D, nil, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_sparse(Q, N, D, K, D, V, D, M, D, H, 1, RP, CI, nil, D, nil, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_sparse_ref(Q, N, D, K, D, V, D, M, D, H, 1, RP, CI, nil, D, nil) == SG_ERR_NULL)
                                    #expect(sg_attention_sparse_ref(Q, N, D, K, D, V, D, M, D, H, 1, RP, nil, O, D, nil) == SG_ERR_NULL)
                                    #expect(sg_attention_dense(nil, N, D, K, D, V, D, M, D, H, 1, O, D, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_dense(Q, N, D, K, D, V, D, M, D, H, 1, nil, D, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_masked(Q, N, D, K, D, V, D, M, D, H, 1, nil, M, O, D, 0) == SG_ERR_NULL)
                                    #expect(sg_attention_masked(Q, N, D, nil, D, V, D, M, D, H, 1, mk.baseAddress, M, O, D, 0) == SG_ERR_NULL)
                                    // Sanity: the same calls with every pointer succeed.
                                    #expect(sg_attention_sparse(Q, N, D, K, D, V, D, M, D, H, 1, RP, CI, O, D, nil, 0) == SG_OK)
                                    #expect(sg_attention_masked(Q, N, D, K, D, V, D, M, D, H, 1, mk.baseAddress, M, O, D, 0) == SG_OK)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Test("a graph without edges gives zeros; col_idx may then be NULL")
    func emptyGraph() {
        var rng = AttnRng(seed: 13)
        let p = AttnProblem(&rng, n: 9, m: 4, d: 64, heads: 4)
        let g = AttnGraph(n: 9, m: 4, rows: Array(repeating: [], count: 9))
        let (st, o, w) = p.sparse(g, weights: true, outFill: .nan)
        #expect(st == SG_OK)
        #expect(o.allSatisfy { $0 == 0 })
        #expect(w.isEmpty)
        let (st2, r, _) = p.reference(g)
        #expect(st2 == SG_OK && r.allSatisfy { $0 == 0 })
    }
}
