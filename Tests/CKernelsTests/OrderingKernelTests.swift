import CKernels
import Testing

// Tests of CKernels/src/ordering.c: sg_space_filling_order (Hilbert order of 2-D points).

/// Seeded SplitMix64, so every fixture is reproducible.
fileprivate typealias OrderRng = KernelTestRng

fileprivate extension KernelTestRng {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func unit() -> Float { Float(Double(next() >> 11) / Double(1 << 53)) }
}

fileprivate func order(_ p: [Float], n: Int, ld: Int) -> (sg_status, [Int32]) {
    var out = [Int32](repeating: -7, count: max(n, 1))
    let st = p.withUnsafeBufferPointer { pp in
        out.withUnsafeMutableBufferPointer { po in
            sg_space_filling_order(pp.baseAddress, Int64(n), Int64(ld), po.baseAddress)
        }
    }
    return (st, out)
}

/// Uniform points in a 640 × 480 image, row stride ld (padding columns hold `pad`).
fileprivate func imagePoints(_ rng: inout OrderRng, n: Int, ld: Int = 2, pad: Float = 0) -> [Float] {
    var p = [Float](repeating: pad, count: n * ld)
    for i in 0..<n {
        p[i * ld] = rng.unit() * 640
        p[i * ld + 1] = rng.unit() * 480
    }
    return p
}

/// Mean |i - j| over the edges of the k-NN graph (self excluded) of n 2-D points.
fileprivate func meanEdgeSpan(_ p: [Float], n: Int, k: Int) -> Double {
    var idx = [Int32](repeating: 0, count: n * k)
    var d2 = [Float](repeating: 0, count: n * k)
    let st = p.withUnsafeBufferPointer { pp in
        idx.withUnsafeMutableBufferPointer { pi in
            d2.withUnsafeMutableBufferPointer { pd in
                sg_knn_l2(pp.baseAddress, Int64(n), 2, pp.baseAddress, Int64(n), 2, 2, Int64(k), 1,
                          pi.baseAddress, pd.baseAddress, 1)
            }
        }
    }
    precondition(st == SG_OK)
    var sum = 0.0
    for i in 0..<n { for e in 0..<k { sum += Double(abs(Int(idx[i * k + e]) - i)) } }
    return sum / Double(n * k)
}

fileprivate func isPermutation(_ perm: [Int32], _ n: Int) -> Bool {
    perm.count == n && perm.map { Int($0) }.sorted() == Array(0..<n)
}

@Suite struct OrderingKernelTests {
    @Test("the order is a permutation, and the same on every call")
    func permutationAndDeterminism() {
        var rng = OrderRng(seed: 1)
        for n in [1, 2, 3, 17, 1000, 5000] {
            let p = imagePoints(&rng, n: n)
            let (st, a) = order(p, n: n, ld: 2)
            #expect(st == SG_OK)
            #expect(isPermutation(a, n))
            let (st2, b) = order(p, n: n, ld: 2)
            #expect(st2 == SG_OK && a == b)
        }
    }

    @Test("strided rows: only the first two columns are read")
    func strided() {
        var rng = OrderRng(seed: 2)
        let n = 700
        let packed = imagePoints(&rng, n: n)
        var strided = [Float](repeating: .nan, count: n * 5) // padding NaN must not be read
        for i in 0..<n { strided[i * 5] = packed[2 * i]; strided[i * 5 + 1] = packed[2 * i + 1] }
        let (s1, a) = order(packed, n: n, ld: 2)
        let (s2, b) = order(strided, n: n, ld: 5)
        #expect(s1 == SG_OK && s2 == SG_OK)
        #expect(a == b)
    }

    @Test("a shuffled 2^k x 2^k lattice is visited cell by adjacent cell (Hilbert continuity)")
    func latticeContinuity() {
        var rng = OrderRng(seed: 3)
        for side in [2, 4, 16, 64] {
            var cells = Array(0..<(side * side))
            for i in stride(from: cells.count - 1, to: 0, by: -1) { cells.swapAt(i, rng.int(i + 1)) }
            // Lattice coordinates scaled and shifted: the order depends only on the bounding box.
            var p = [Float]()
            for c in cells { p += [Float(c % side) * 2.5 - 7, Float(c / side) * 2.5 + 100] }
            let (st, perm) = order(p, n: cells.count, ld: 2)
            #expect(st == SG_OK)
            var steps = 0
            for r in 1..<perm.count {
                let a = cells[Int(perm[r - 1])], b = cells[Int(perm[r])]
                if abs(a % side - b % side) + abs(a / side - b / side) == 1 { steps += 1 }
            }
            #expect(steps == perm.count - 1, "side \(side)")
            // The curve starts in a corner and ends in an adjacent corner.
            let first = cells[Int(perm[0])], last = cells[Int(perm[perm.count - 1])]
            #expect(first == 0)
            #expect(last % side == side - 1 && last / side == 0)
        }
    }

    @Test("ties (points in one cell, duplicates) keep ascending index order")
    func ties() {
        let n = 50
        let same = [Float](repeating: 3.25, count: 2 * n)
        let (st, perm) = order(same, n: n, ld: 2)
        #expect(st == SG_OK)
        #expect(perm == (0..<Int32(n)).map { $0 })
        // Two clusters of duplicates: within each, indices ascend.
        var p = [Float]()
        for i in 0..<n { p += i % 2 == 0 ? [0, 0] : [10, 10] }
        let (st2, perm2) = order(p, n: n, ld: 2)
        #expect(st2 == SG_OK)
        let evens = perm2.filter { $0 % 2 == 0 }, odds = perm2.filter { $0 % 2 == 1 }
        #expect(evens == evens.sorted() && odds == odds.sorted())
        #expect(Set(perm2.prefix(n / 2).map { $0 % 2 }).count == 1) // one cluster, then the other
    }

    @Test("after renumbering, k-NN neighbours have nearby indices")
    func locality() {
        var rng = OrderRng(seed: 4)
        let n = 4096, k = 16
        let p = imagePoints(&rng, n: n)
        let (st, perm) = order(p, n: n, ld: 2)
        #expect(st == SG_OK)
        var q = [Float](repeating: 0, count: 2 * n)
        for r in 0..<n { q[2 * r] = p[2 * Int(perm[r])]; q[2 * r + 1] = p[2 * Int(perm[r]) + 1] }
        let before = meanEdgeSpan(p, n: n, k: k), after = meanEdgeSpan(q, n: n, k: k)
        // Random numbering: about n / 3; Hilbert: a few tens.
        #expect(before > 1000)
        #expect(after * 10 < before, "mean |i - j| \(before) -> \(after)")
    }

    @Test("invalid inputs give the documented status")
    func invalidInputs() {
        let p: [Float] = [0, 1, 2, 3, 4, 5]
        var out = [Int32](repeating: 0, count: 3)
        out.withUnsafeMutableBufferPointer { po in
            #expect(sg_space_filling_order(nil, 3, 2, po.baseAddress) == SG_ERR_NULL)
        }
        p.withUnsafeBufferPointer { pp in
            #expect(sg_space_filling_order(pp.baseAddress, 3, 2, nil) == SG_ERR_NULL)
            out.withUnsafeMutableBufferPointer { po in
                #expect(sg_space_filling_order(pp.baseAddress, 0, 2, po.baseAddress) == SG_ERR_SIZE)
                #expect(sg_space_filling_order(pp.baseAddress, -1, 2, po.baseAddress) == SG_ERR_SIZE)
                // Too many points for int32 indices: rejected before anything is read.
                #expect(sg_space_filling_order(pp.baseAddress, Int64(Int32.max) + 1, 2, po.baseAddress) == SG_ERR_SIZE)
                #expect(sg_space_filling_order(pp.baseAddress, 3, 1, po.baseAddress) == SG_ERR_SHAPE)
                #expect(sg_space_filling_order(pp.baseAddress, 3, 0, po.baseAddress) == SG_ERR_SHAPE)
                #expect(sg_space_filling_order(pp.baseAddress, 2, Int64.max, po.baseAddress) == SG_ERR_SIZE)
            }
        }
        for bad in [Float.nan, .infinity, -.infinity] {
            for slot in 0..<6 {
                var q = p
                q[slot] = bad
                #expect(order(q, n: 3, ld: 2).0 == SG_ERR_NONFINITE)
            }
        }
    }
}
