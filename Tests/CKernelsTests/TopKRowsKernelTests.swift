import CKernels
import Testing

// Tests of CKernels/src/topk_rows.c (sg_topk_dot_rows and its reference twin). The fast kernel
// ranks float GEMM scores, the reference exact (double) dot products: on integer-valued data every
// score is exact in float, so both must agree bit for bit, ties (duplicate columns) included; on
// continuous random data they agree except where two scores are within float rounding.

fileprivate extension KernelTestRng {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Uniform in [-1, 1).
    mutating func signed() -> Float { Float(Double(next() >> 11) / Double(1 << 53)) * 2 - 1 }
}

/// A row-major matrix whose row stride may exceed its width; padding holds `pad`.
fileprivate struct StridedMat {
    var rows: Int
    var dim: Int
    var ld: Int
    var data: [Float]

    init(rows: Int, dim: Int, ld: Int? = nil, pad: Float = .nan, fill: (Int, Int) -> Float) {
        self.rows = rows
        self.dim = dim
        self.ld = ld ?? dim
        data = [Float](repeating: pad, count: max(rows * self.ld, 1))
        for i in 0..<rows { for t in 0..<dim { data[i * self.ld + t] = fill(i, t) } }
    }

    func dot(_ i: Int, _ other: StridedMat, _ j: Int) -> Double {
        var s = 0.0
        for t in 0..<dim { s += Double(data[i * ld + t]) * Double(other.data[j * other.ld + t]) }
        return s
    }
}

fileprivate struct TopKResult {
    var status: sg_status
    var idx: [Int32]
    var score: [Float]
}

/// sg_topk_dot_rows (threads != nil) or sg_topk_dot_rows_ref (threads == nil).
fileprivate func topK(_ a: StridedMat, _ b: StridedMat, k: Int, threads: Int32?, rows: Int? = nil,
                      columns: Int? = nil, dim: Int? = nil, lda: Int? = nil, ldb: Int? = nil) -> TopKResult {
    let n = rows ?? a.rows, m = columns ?? b.rows
    var idx = [Int32](repeating: -9, count: max(n * k, 1))
    var score = [Float](repeating: .nan, count: max(n * k, 1))
    let st = a.data.withUnsafeBufferPointer { pa in
        b.data.withUnsafeBufferPointer { pb in
            idx.withUnsafeMutableBufferPointer { pi in
                score.withUnsafeMutableBufferPointer { ps in
                    if let t = threads {
                        return sg_topk_dot_rows(pa.baseAddress, Int64(n), Int64(lda ?? a.ld), pb.baseAddress, Int64(m),
                                                Int64(ldb ?? b.ld), Int64(dim ?? a.dim), Int64(k), pi.baseAddress,
                                                ps.baseAddress, t)
                    }
                    return sg_topk_dot_rows_ref(pa.baseAddress, Int64(n), Int64(lda ?? a.ld), pb.baseAddress, Int64(m),
                                                Int64(ldb ?? b.ld), Int64(dim ?? a.dim), Int64(k), pi.baseAddress,
                                                ps.baseAddress)
                }
            }
        }
    }
    return TopKResult(status: st, idx: idx, score: score)
}

fileprivate func sameBits(_ x: [Float], _ y: [Float]) -> Bool {
    x.count == y.count && zip(x, y).allSatisfy { $0.bitPattern == $1.bitPattern }
}

/// Checks `fast` against the exact top-k of a · b: sorted best first (ties by index) on its own
/// scores, scores within float GEMM rounding of the exact dot products, and every index outside the
/// exact top-k set scoring within that rounding of the exact k-th score (a near-tie).
fileprivate func expectNearExact(_ fast: TopKResult, _ a: StridedMat, _ b: StridedMat, k: Int,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
    let m = b.rows
    #expect(fast.status == SG_OK, sourceLocation: sourceLocation)
    guard fast.status == SG_OK else { return }
    var nearTies = 0
    var maxB = 0.0
    for j in 0..<m {
        var s = 0.0
        for t in 0..<b.dim { s += Double(b.data[j * b.ld + t]) * Double(b.data[j * b.ld + t]) }
        maxB = max(maxB, s)
    }
    for i in 0..<a.rows {
        let exact = (0..<m).map { a.dot(i, b, $0) }
        var normA = 0.0
        for t in 0..<a.dim { normA += Double(a.data[i * a.ld + t]) * Double(a.data[i * a.ld + t]) }
        // Float dot product error bound: dim · ε · ‖a‖ ‖b‖ (generous).
        let tol = Double(a.dim) * Double(Float.ulpOfOne) * (normA * maxB).squareRoot() + 1e-30
        let order = (0..<m).sorted { exact[$0] > exact[$1] || (exact[$0] == exact[$1] && $0 < $1) }
        let kth = exact[order[k - 1]]
        let refSet = Set(order.prefix(k).map { Int32($0) })
        let ids = Array(fast.idx[(i * k)..<(i * k + k)]), sc = Array(fast.score[(i * k)..<(i * k + k)])
        #expect(Set(ids).count == k, "row \(i): duplicate indices", sourceLocation: sourceLocation)
        for s in 0..<k {
            let j = Int(ids[s])
            #expect(j >= 0 && j < m, sourceLocation: sourceLocation)
            guard j >= 0 && j < m else { return }
            #expect(abs(Double(sc[s]) - exact[j]) <= tol, "row \(i): score of \(j) off by \(Double(sc[s]) - exact[j])",
                    sourceLocation: sourceLocation)
            if s > 0 {
                #expect(sc[s - 1] > sc[s] || (sc[s - 1] == sc[s] && ids[s - 1] < ids[s]), "row \(i) not sorted",
                        sourceLocation: sourceLocation)
            }
            if !refSet.contains(ids[s]) {
                nearTies += 1
                #expect(exact[j] >= kth - 2 * tol, "row \(i): \(j) is not a near-tie of the k-th",
                        sourceLocation: sourceLocation)
            }
        }
    }
    // Random continuous data: near-ties at the k-th place are rare.
    #expect(nearTies <= max(2, a.rows / 50), "\(nearTies) near-tie swaps", sourceLocation: sourceLocation)
}

@Suite("Fast row top-k kernel (sg_topk_dot_rows)")
struct TopKRowsKernelTests {
    @Test("random data: equals the exact top-k except near-ties; reference agrees with a Swift brute force")
    func randomVersusReference() {
        var rng = KernelTestRng(seed: 0x70_4B_01)
        for (n, m, dim, k) in [(200, 700, 64, 32), (130, 257, 17, 5), (1, 50, 3, 7), (60, 4500, 8, 40), (64, 33, 64, 33)] {
            let a = StridedMat(rows: n, dim: dim) { _, _ in rng.signed() }
            let b = StridedMat(rows: m, dim: dim) { _, _ in rng.signed() }
            expectNearExact(topK(a, b, k: k, threads: 2), a, b, k: k)
            // The reference ranks exact double dot products: check it against Swift on a few rows.
            let ref = topK(a, b, k: k, threads: nil)
            #expect(ref.status == SG_OK)
            for i in [0, n / 2, n - 1] {
                let exact = (0..<m).map { a.dot(i, b, $0) }
                let order = (0..<m).sorted { exact[$0] > exact[$1] || (exact[$0] == exact[$1] && $0 < $1) }
                #expect(Array(ref.idx[(i * k)..<(i * k + k)]) == order.prefix(k).map { Int32($0) })
                #expect(Array(ref.score[(i * k)..<(i * k + k)]) == order.prefix(k).map { Float(exact[$0]) })
            }
        }
    }

    @Test("integer data (exact float scores, many ties) and duplicate columns: fast == reference bit for bit")
    func tiesMatchReference() {
        var rng = KernelTestRng(seed: 0x71E5)
        for (n, m, dim, k) in [(150, 300, 16, 10), (129, 64, 4, 64), (40, 5000, 3, 9), (7, 19, 64, 1)] {
            let a = StridedMat(rows: n, dim: dim) { _, _ in Float(rng.int(5) - 2) }
            var b = StridedMat(rows: m, dim: dim) { _, _ in Float(rng.int(5) - 2) }
            // Duplicate columns: copies of row 3 at higher indices must follow it in order.
            for dst in [5, 11, m - 1] where dst < m && dst != 3 {
                for t in 0..<dim { b.data[dst * b.ld + t] = b.data[3 * b.ld + t] }
            }
            let ref = topK(a, b, k: k, threads: nil)
            #expect(ref.status == SG_OK)
            for t: Int32 in [1, 2, 3] {
                let fast = topK(a, b, k: k, threads: t)
                #expect(fast.status == SG_OK)
                #expect(fast.idx == ref.idx, "indices differ (n \(n), m \(m), k \(k), threads \(t))")
                #expect(sameBits(fast.score, ref.score), "scores differ (n \(n), m \(m), k \(k), threads \(t))")
            }
        }
        // All columns identical: every row's answer is 0, 1, ..., k-1.
        let a = StridedMat(rows: 3, dim: 5) { i, t in Float(i + t) }
        let b = StridedMat(rows: 40, dim: 5) { _, t in Float(t) - 1 }
        let fast = topK(a, b, k: 12, threads: 2)
        #expect(fast.status == SG_OK)
        for i in 0..<3 { #expect(Array(fast.idx[(i * 12)..<(i * 12 + 12)]) == (0..<12).map { Int32($0) }) }
    }

    @Test("row strides larger than dim (padding is never read), k = 1 and k = m")
    func stridesAndExtremeK() {
        var rng = KernelTestRng(seed: 0x5_7121)
        let n = 140, m = 90, dim = 24
        let a = StridedMat(rows: n, dim: dim, ld: 37, pad: .nan) { _, _ in rng.signed() }
        let b = StridedMat(rows: m, dim: dim, ld: 29, pad: .infinity) { _, _ in rng.signed() }
        for k in [1, m] {
            let fast = topK(a, b, k: k, threads: 2)
            expectNearExact(fast, a, b, k: k)
            // Packed copies give the same answer bit for bit (the stride does not change a score).
            let ap = StridedMat(rows: n, dim: dim) { i, t in a.data[i * a.ld + t] }
            let bp = StridedMat(rows: m, dim: dim) { j, t in b.data[j * b.ld + t] }
            let packed = topK(ap, bp, k: k, threads: 2)
            #expect(packed.idx == fast.idx && sameBits(packed.score, fast.score))
        }
        // k = m: every row is a permutation of 0..<m.
        let all = topK(a, b, k: m, threads: 1)
        for i in 0..<n { #expect(Set(all.idx[(i * m)..<(i * m + m)]) == Set((0..<m).map { Int32($0) })) }
        // k = 1 is the row argmax.
        let one = topK(a, b, k: 1, threads: 3)
        for i in 0..<n { #expect(one.idx[i] == all.idx[i * m] && one.score[i] == all.score[i * m]) }
    }

    @Test("results do not depend on the thread count (1, 2, 3 threads bit-identical)")
    func threadCountInvariance() {
        var rng = KernelTestRng(seed: 0x3_7EAD)
        for (n, m, dim, k) in [(515, 2048, 64, 32), (260, 9000, 8, 16)] {
            let a = StridedMat(rows: n, dim: dim, ld: dim + 3) { _, _ in rng.signed() }
            let b = StridedMat(rows: m, dim: dim) { _, _ in rng.signed() }
            let one = topK(a, b, k: k, threads: 1)
            #expect(one.status == SG_OK)
            for t: Int32 in [2, 3, 0] {
                let other = topK(a, b, k: k, threads: t)
                #expect(other.status == SG_OK)
                #expect(other.idx == one.idx, "indices differ with \(t) threads")
                #expect(sameBits(other.score, one.score), "scores differ with \(t) threads")
            }
        }
    }

    @Test("invalid arguments and non-finite inputs return status codes")
    func badInputs() {
        let a = StridedMat(rows: 4, dim: 3) { i, t in Float(i - t) }
        let b = StridedMat(rows: 6, dim: 3) { i, t in Float(i * t) }
        for threads: Int32? in [2, nil] {
            #expect(topK(a, b, k: 0, threads: threads).status == SG_ERR_SIZE)
            #expect(topK(a, b, k: 7, threads: threads).status == SG_ERR_SIZE)
            #expect(topK(a, b, k: 6, threads: threads).status == SG_OK)
            #expect(topK(a, b, k: 1, threads: threads, rows: 0).status == SG_ERR_SIZE)
            #expect(topK(a, b, k: 1, threads: threads, columns: 0).status == SG_ERR_SIZE)
            #expect(topK(a, b, k: 1, threads: threads, dim: 0, lda: 3, ldb: 3).status == SG_ERR_SIZE)
            #expect(topK(a, b, k: 1, threads: threads, lda: 2).status == SG_ERR_SHAPE)
            #expect(topK(a, b, k: 1, threads: threads, ldb: 2).status == SG_ERR_SHAPE)
            var nanA = a
            nanA.data[5] = .nan
            #expect(topK(nanA, b, k: 2, threads: threads).status == SG_ERR_NONFINITE)
            var infB = b
            infB.data[17] = -.infinity
            #expect(topK(a, infB, k: 2, threads: threads).status == SG_ERR_NONFINITE)
            // Finite values whose dot products could overflow float.
            let huge = StridedMat(rows: 2, dim: 3) { _, _ in 1e25 }
            #expect(topK(huge, huge, k: 1, threads: threads).status == SG_ERR_NONFINITE)
        }
        var idx = [Int32](repeating: 0, count: 8)
        var score = [Float](repeating: 0, count: 8)
        a.data.withUnsafeBufferPointer { pa in
            #expect(sg_topk_dot_rows(pa.baseAddress, 4, 3, nil, 6, 3, 3, 2, &idx, &score, 1) == SG_ERR_NULL)
            #expect(sg_topk_dot_rows(pa.baseAddress, 4, 3, pa.baseAddress, 4, 3, 3, 2, nil, &score, 1) == SG_ERR_NULL)
            #expect(sg_topk_dot_rows(pa.baseAddress, 4, 3, pa.baseAddress, 4, 3, 3, 2, &idx, nil, 1) == SG_ERR_NULL)
            #expect(sg_topk_dot_rows_ref(nil, 4, 3, pa.baseAddress, 4, 3, 3, 2, &idx, &score) == SG_ERR_NULL)
        }
    }
}
