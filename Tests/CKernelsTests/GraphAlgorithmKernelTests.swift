import CKernels
import Testing

// Tests of CKernels/src/graph_algorithms.c: equal partition, Euclidean MST, diverse neighbours.
// Results are checked against properties and independent Swift computations (Kruskal for the
// MST), on seeded fixtures with duplicate points.

/// Seeded SplitMix64, so every fixture is reproducible.
fileprivate typealias GARng = KernelTestRng

fileprivate extension KernelTestRng {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func unit() -> Float { Float(Double(next() >> 11) / Double(1 << 53)) }
}

/// n points of dim coordinates, row stride ld.
fileprivate func randomPoints(_ rng: inout GARng, n: Int, dim: Int, ld: Int? = nil,
                              duplicates: Int = 0, lattice: Int? = nil) -> [Float] {
    let ld = ld ?? dim
    var p = [Float](repeating: -3, count: n * ld)
    for i in 0..<n {
        for t in 0..<dim { p[i * ld + t] = lattice.map { Float(rng.int($0)) } ?? rng.unit() * 100 }
    }
    for _ in 0..<duplicates {
        let s = rng.int(n), d = rng.int(n)
        for t in 0..<dim { p[d * ld + t] = p[s * ld + t] }
    }
    return p
}

fileprivate func partition(_ p: [Float], n: Int, dim: Int, ld: Int, groups: Int)
    -> (sg_status, [Int32]) {
    var out = [Int32](repeating: -5, count: max(n, 1))
    let st = p.withUnsafeBufferPointer { pp in
        out.withUnsafeMutableBufferPointer { po in
            sg_partition_equal(pp.baseAddress, Int64(n), Int64(dim), Int64(ld), Int64(groups),
                               po.baseAddress)
        }
    }
    return (st, out)
}

fileprivate func mst(_ p: [Float], n: Int, dim: Int, ld: Int, threads: Int32)
    -> (sg_status, [Int32], [Float]) {
    var parent = [Int32](repeating: -5, count: max(n, 1))
    var length = [Float](repeating: .nan, count: max(n, 1))
    let st = p.withUnsafeBufferPointer { pp in
        parent.withUnsafeMutableBufferPointer { pa in
            length.withUnsafeMutableBufferPointer { pl in
                sg_mst_euclidean(pp.baseAddress, Int64(n), Int64(dim), Int64(ld), pa.baseAddress,
                                 pl.baseAddress, threads)
            }
        }
    }
    return (st, parent, length)
}

fileprivate func euclid(_ p: [Float], _ i: Int, _ j: Int, dim: Int, ld: Int) -> Double {
    var s = 0.0
    for t in 0..<dim {
        let d = Double(p[i * ld + t]) - Double(p[j * ld + t])
        s += d * d
    }
    return s.squareRoot()
}

/// Total MST length by Kruskal with union-find over all pairs (independent of the C kernel).
fileprivate func kruskalLength(_ p: [Float], n: Int, dim: Int, ld: Int) -> Double {
    var edges: [(Double, Int, Int)] = []
    for i in 0..<n { for j in (i + 1)..<n { edges.append((euclid(p, i, j, dim: dim, ld: ld), i, j)) } }
    edges.sort { $0.0 < $1.0 }
    var root = Array(0..<n)
    func find(_ x: Int) -> Int {
        var x = x
        while root[x] != x { root[x] = root[root[x]]; x = root[x] }
        return x
    }
    var total = 0.0, used = 0
    for (w, i, j) in edges where used < n - 1 {
        let (a, b) = (find(i), find(j))
        if a != b { root[a] = b; total += w; used += 1 }
    }
    return total
}

/// Total length by a plain O(n^2) Prim in Swift (for sets too large for Kruskal's edge list).
fileprivate func primLength(_ p: [Float], n: Int, dim: Int, ld: Int) -> Double {
    var best = [Double](repeating: .infinity, count: n)
    var inTree = [Bool](repeating: false, count: n)
    var u = 0, total = 0.0
    inTree[0] = true
    for _ in 1..<n {
        var w = -1
        for v in 0..<n where !inTree[v] {
            best[v] = min(best[v], euclid(p, u, v, dim: dim, ld: ld))
            if w < 0 || best[v] < best[w] { w = v }
        }
        inTree[w] = true
        total += best[w]
        u = w
    }
    return total
}

/// Checks the tree shape: root 0, n - 1 edges, every node reaches the root without a cycle, and
/// the lengths are the edge lengths. Returns the total length.
fileprivate func checkTree(_ parent: [Int32], _ length: [Float], _ p: [Float], n: Int, dim: Int,
                           ld: Int, sourceLocation: SourceLocation = #_sourceLocation) -> Double {
    #expect(parent[0] == -1, sourceLocation: sourceLocation)
    #expect(parent[1..<n].allSatisfy { $0 >= 0 && Int($0) < n }, sourceLocation: sourceLocation)
    var depth = [Int](repeating: -1, count: n)
    depth[0] = 0
    for start in 0..<n {
        var path: [Int] = []
        var v = start
        while depth[v] < 0 && path.count <= n {
            path.append(v)
            let pv = Int(parent[v])
            if pv < 0 || pv >= n { break }
            v = pv
        }
        #expect(depth[v] >= 0, "node \(start) does not reach the root", sourceLocation: sourceLocation)
        if depth[v] < 0 { return .nan }
        for (s, node) in path.reversed().enumerated() { depth[node] = depth[v] + s + 1 }
    }
    var total = 0.0
    for i in 1..<n {
        let e = euclid(p, i, Int(parent[i]), dim: dim, ld: ld)
        #expect(abs(Double(length[i]) - e) <= 1e-6 * max(1, e), sourceLocation: sourceLocation)
        total += Double(length[i])
    }
    return total
}

fileprivate func diverse(_ f: [Float], n: Int, dim: Int, ld: Int, offsets: Bool, cand: [Int32],
                         dist: [Float], nCand: Int, ldc: Int, k: Int, alpha: Float, beta: Float,
                         threads: Int32 = 1) -> (sg_status, [Int32]) {
    var out = [Int32](repeating: -7, count: max(n * k, 1))
    let st = f.withUnsafeBufferPointer { pf in
        cand.withUnsafeBufferPointer { pc in
            dist.withUnsafeBufferPointer { pd in
                out.withUnsafeMutableBufferPointer { po in
                    sg_diverse_neighbors(pf.baseAddress, Int64(n), Int64(dim), Int64(ld),
                                         offsets ? 1 : 0, pc.baseAddress, pd.baseAddress,
                                         Int64(nCand), Int64(ldc), Int64(k), alpha, beta,
                                         po.baseAddress, threads)
                }
            }
        }
    }
    return (st, out)
}

@Suite("Graph algorithm kernels")
struct GraphAlgorithmKernelTests {

    // MARK: Equal partition

    @Test("partition: every point in one group, sizes floor/ceil with the large groups first",
          arguments: [1, 2, 3, 7, 16, 100, 1001])
    func partitionSizes(groups: Int) {
        var rng = GARng(seed: 100 + UInt64(groups))
        let n = 1001, dim = 3, ld = 4
        let p = randomPoints(&rng, n: n, dim: dim, ld: ld, duplicates: 100, lattice: 12)
        let (st, g) = partition(p, n: n, dim: dim, ld: ld, groups: groups)
        #expect(st == SG_OK)
        #expect(g.allSatisfy { $0 >= 0 && Int($0) < groups })
        var size = [Int](repeating: 0, count: groups)
        for x in g { size[Int(x)] += 1 }
        for c in 0..<groups { #expect(size[c] == n / groups + (c < n % groups ? 1 : 0)) }
        // Deterministic.
        #expect(partition(p, n: n, dim: dim, ld: ld, groups: groups).1 == g)
    }

    @Test("partition splits along the axis of largest spread, by coordinate then index")
    func partitionSplitsSpatially() {
        var rng = GARng(seed: 110)
        let n = 500
        // x spans [0, 1000), y only [0, 10): two groups must be separated by x.
        var p = [Float](repeating: 0, count: 2 * n)
        for i in 0..<n { p[2 * i] = Float(rng.int(1000)); p[2 * i + 1] = rng.unit() * 10 }
        let (st, g) = partition(p, n: n, dim: 2, ld: 2, groups: 2)
        #expect(st == SG_OK)
        let left = (0..<n).filter { g[$0] == 0 }, right = (0..<n).filter { g[$0] == 1 }
        #expect(left.count == 250 && right.count == 250)
        // Order is (x, index): every left point precedes every right point.
        func before(_ a: Int, _ b: Int) -> Bool {
            let xa: Float = p[2 * a], xb: Float = p[2 * b]
            return xa < xb || (xa == xb && a < b)
        }
        let lastLeft: Int = left.max(by: before)!
        let firstRight: Int = right.min(by: before)!
        #expect(before(lastLeft, firstRight))

        // Four groups on a 2 x 2 arrangement of clusters: each group is one cluster.
        var q = [Float](repeating: 0, count: 2 * 400)
        for i in 0..<400 {
            let c = i % 4
            q[2 * i] = Float(c % 2) * 100 + rng.unit()
            q[2 * i + 1] = Float(c / 2) * 100 + rng.unit()
        }
        let (st4, g4) = partition(q, n: 400, dim: 2, ld: 2, groups: 4)
        #expect(st4 == SG_OK)
        for c in 0..<4 {
            let labels = Set((0..<400).filter { $0 % 4 == c }.map { g4[$0] })
            #expect(labels.count == 1)
        }
    }

    @Test("partition of identical points still has exact sizes")
    func partitionIdenticalPoints() {
        let n = 37
        let p = [Float](repeating: 2.5, count: n * 2)
        let (st, g) = partition(p, n: n, dim: 2, ld: 2, groups: 5)
        #expect(st == SG_OK)
        // Ties go by index, so groups are consecutive runs of indices: 8, 8, 7, 7, 7.
        let expected: [Int32] = (0..<n).map { (i: Int) -> Int32 in
            let group: Int = i < 16 ? i / 8 : 2 + (i - 16) / 7
            return Int32(group)
        }
        #expect(g == expected)
    }

    @Test("partition rejects bad input")
    func partitionBadInput() {
        var rng = GARng(seed: 120)
        let p = randomPoints(&rng, n: 10, dim: 2)
        #expect(partition(p, n: 10, dim: 2, ld: 2, groups: 0).0 == SG_ERR_SIZE)
        #expect(partition(p, n: 10, dim: 2, ld: 2, groups: 11).0 == SG_ERR_SIZE)
        #expect(partition(p, n: 0, dim: 2, ld: 2, groups: 1).0 == SG_ERR_SIZE)
        #expect(partition(p, n: 10, dim: 0, ld: 2, groups: 1).0 == SG_ERR_SIZE)
        #expect(partition(p, n: 5, dim: 2, ld: 1, groups: 2).0 == SG_ERR_SHAPE)
        var bad = p
        bad[7] = .nan
        #expect(partition(bad, n: 10, dim: 2, ld: 2, groups: 2).0 == SG_ERR_NONFINITE)
        bad[7] = -.infinity
        #expect(partition(bad, n: 10, dim: 2, ld: 2, groups: 2).0 == SG_ERR_NONFINITE)
        var out = [Int32](repeating: 0, count: 10)
        #expect(sg_partition_equal(nil, 10, 2, 2, 2, &out) == SG_ERR_NULL)
        p.withUnsafeBufferPointer { #expect(sg_partition_equal($0.baseAddress, 10, 2, 2, 2, nil) == SG_ERR_NULL) }
    }

    // MARK: Minimum spanning tree

    @Test("MST is a spanning tree of minimum total length (vs Kruskal)",
          arguments: [(2, 0), (2, 15), (5, 10), (3, 60)])
    func mstMatchesKruskal(dim: Int, duplicates: Int) {
        var rng = GARng(seed: 200 + UInt64(dim * 100 + duplicates))
        let n = 80, ld = dim + 1
        let lattice: Int? = duplicates > 30 ? 4 : nil  // many exact ties
        let p = randomPoints(&rng, n: n, dim: dim, ld: ld, duplicates: duplicates, lattice: lattice)
        let (st, parent, length) = mst(p, n: n, dim: dim, ld: ld, threads: 2)
        #expect(st == SG_OK)
        let total = checkTree(parent, length, p, n: n, dim: dim, ld: ld)
        let expected = kruskalLength(p, n: n, dim: dim, ld: ld)
        #expect(abs(total - expected) <= 1e-4 * max(expected, 1e-12))
        #expect(mst(p, n: n, dim: dim, ld: ld, threads: 1).1 == parent)
    }

    @Test("MST on a set large enough for the parallel path: 1 and 2 threads agree, length vs Prim")
    func mstParallel() {
        var rng = GARng(seed: 210)
        let n = 1300, dim = 16
        let p = randomPoints(&rng, n: n, dim: dim, duplicates: 50, lattice: 3)
        let one = mst(p, n: n, dim: dim, ld: dim, threads: 1)
        let two = mst(p, n: n, dim: dim, ld: dim, threads: 2)
        #expect(one.0 == SG_OK && two.0 == SG_OK)
        #expect(one.1 == two.1)
        #expect(one.2.map(\.bitPattern) == two.2.map(\.bitPattern))
        let total = checkTree(two.1, two.2, p, n: n, dim: dim, ld: dim)
        let expected = primLength(p, n: n, dim: dim, ld: dim)
        #expect(abs(total - expected) <= 1e-4 * expected)
    }

    @Test("MST edge cases: one point, identical points, NULL lengths, bad input")
    func mstEdgeCases() {
        let single: [Float] = [4, 2]
        let (st1, par1, len1) = mst(single, n: 1, dim: 2, ld: 2, threads: 2)
        #expect(st1 == SG_OK && par1 == [-1] && len1[0] == 0)

        let same = [Float](repeating: 1.5, count: 30)
        let (st2, par2, len2) = mst(same, n: 10, dim: 3, ld: 3, threads: 2)
        #expect(st2 == SG_OK)
        #expect(len2.allSatisfy { $0 == 0 })
        // All distances tie: every node joins through node 0 (lowest index).
        #expect(par2 == [-1] + [Int32](repeating: 0, count: 9))

        var parent = [Int32](repeating: 0, count: 10)
        same.withUnsafeBufferPointer { pp in
            #expect(sg_mst_euclidean(pp.baseAddress, 10, 3, 3, &parent, nil, 1) == SG_OK)
            #expect(sg_mst_euclidean(pp.baseAddress, 0, 3, 3, &parent, nil, 1) == SG_ERR_SIZE)
            #expect(sg_mst_euclidean(pp.baseAddress, 10, 3, 2, &parent, nil, 1) == SG_ERR_SHAPE)
            #expect(sg_mst_euclidean(pp.baseAddress, 10, 3, 3, nil, nil, 1) == SG_ERR_NULL)
        }
        #expect(parent == [-1] + [Int32](repeating: 0, count: 9))
        #expect(sg_mst_euclidean(nil, 10, 3, 3, &parent, nil, 1) == SG_ERR_NULL)
        var bad = same
        bad[4] = .nan
        #expect(mst(bad, n: 10, dim: 3, ld: 3, threads: 1).0 == SG_ERR_NONFINITE)
    }

    // MARK: Diverse neighbours

    @Test("diverse neighbours with beta = 0 are the first k candidates")
    func diverseBetaZero() {
        var rng = GARng(seed: 300)
        let n = 400, dim = 2, nCand = 12, k = 5
        let p = randomPoints(&rng, n: n, dim: dim, duplicates: 20)
        // Candidates from the k-NN kernel: sorted by distance, ties by index.
        var cand = [Int32](repeating: 0, count: n * nCand)
        var d2 = [Float](repeating: 0, count: n * nCand)
        let st = p.withUnsafeBufferPointer { pp in
            sg_knn_l2(pp.baseAddress, Int64(n), 2, pp.baseAddress, Int64(n), 2, 2, Int64(nCand), 1,
                      &cand, &d2, 2)
        }
        #expect(st == SG_OK)
        let dist = d2.map { $0.squareRoot() }
        for threads: Int32 in [1, 2] {
            let (s, out) = diverse(p, n: n, dim: dim, ld: dim, offsets: true, cand: cand,
                                   dist: dist, nCand: nCand, ldc: nCand, k: k, alpha: 1, beta: 0,
                                   threads: threads)
            #expect(s == SG_OK)
            for i in 0..<n {
                #expect(Array(out[(i * k)..<(i * k + k)]) == Array(cand[(i * nCand)..<(i * nCand + k)]))
            }
        }
    }

    @Test("diverse neighbours prefer a new direction when beta > 0")
    func diversePicksOtherDirection() {
        // Point 0 at the origin; candidates 1, 2, 3 along +x (distances 1, 1.1, 1.2) and 4 along
        // +y (distance 1.5).
        let f: [Float] = [0, 0, 1, 0, 1.1, 0, 1.2, 0, 0, 1.5]
        let n = 5, nCand = 4, ldc = 6
        var cand = [Int32](repeating: -1, count: n * ldc)
        var dist = [Float](repeating: .nan, count: n * ldc)  // unused entries may hold anything
        for (r, j) in [1, 2, 3, 4].enumerated() {
            cand[r] = Int32(j)
            dist[r] = [1, 1.1, 1.2, 1.5][r]
        }
        for i in 1..<n { cand[i * ldc] = 0; dist[i * ldc] = 1 }  // other rows: one candidate

        let (s0, plain) = diverse(f, n: n, dim: 2, ld: 2, offsets: true, cand: cand, dist: dist,
                                  nCand: nCand, ldc: ldc, k: 2, alpha: 1, beta: 0)
        #expect(s0 == SG_OK)
        #expect(Array(plain[0..<2]) == [1, 2])
        let (s1, div) = diverse(f, n: n, dim: 2, ld: 2, offsets: true, cand: cand, dist: dist,
                                nCand: nCand, ldc: ldc, k: 2, alpha: 1, beta: 1)
        #expect(s1 == SG_OK)
        #expect(Array(div[0..<2]) == [1, 4])
        // Third pick: the remaining +x candidates are fully redundant; the nearest of them wins.
        let (s2, three) = diverse(f, n: n, dim: 2, ld: 2, offsets: true, cand: cand, dist: dist,
                                  nCand: nCand, ldc: ldc, k: 3, alpha: 1, beta: 1)
        #expect(s2 == SG_OK)
        #expect(Array(three[0..<3]) == [1, 4, 2])
        // Rows with a single valid candidate are padded with -1.
        for i in 1..<n { #expect(Array(three[(i * 3)..<(i * 3 + 3)]) == [0, -1, -1]) }
    }

    @Test("redundancy is the max cosine, so an opposite direction (cosine -1) is favoured")
    func diverseOppositeDirection() {
        // Origin 0; candidates 1, 2 along +x (1, 1.1), 3 along +y (1.5), 4 along -x (2).
        let f: [Float] = [0, 0, 1, 0, 1.1, 0, 0, 1.5, -2, 0]
        let n = 5, nCand = 4
        var cand = [Int32](repeating: -1, count: n * nCand)
        var dist = [Float](repeating: 0, count: n * nCand)
        for (r, j) in [1, 2, 3, 4].enumerated() {
            cand[r] = Int32(j)
            dist[r] = [1, 1.1, 1.5, 2][r]
        }
        // closeness: 0.5, 0.45, 0.25, 0. After picking 1, redundancy: 2 -> 1, 3 -> 0, 4 -> -1,
        // so the scores are -0.55, 0.25 and 1: candidate 4 (the opposite side) is next.
        let (s, out) = diverse(f, n: n, dim: 2, ld: 2, offsets: true, cand: cand, dist: dist,
                               nCand: nCand, ldc: nCand, k: 3, alpha: 1, beta: 1)
        #expect(s == SG_OK)
        #expect(Array(out[0..<3]) == [1, 4, 3])
        // Closeness is relative to the row's largest distance: scaling the layout changes nothing.
        let (s100, out100) = diverse(f.map { $0 * 100 }, n: n, dim: 2, ld: 2, offsets: true,
                                     cand: cand, dist: dist.map { $0 * 100 }, nCand: nCand,
                                     ldc: nCand, k: 3, alpha: 1, beta: 1)
        #expect(s100 == SG_OK)
        #expect(Array(out100[0..<3]) == [1, 4, 3])
    }

    @Test("diverse neighbours on descriptors (no offsets), negative entries ignored, zero vectors")
    func diverseDescriptors() {
        // Descriptors of 4 nodes; row 0's candidates: 1 (same direction as 2), 2, 3 (orthogonal).
        let f: [Float] = [9, 9, 1, 0, 2, 0, 0, 3, 0, 0]
        let n = 5, nCand = 5
        var cand = [Int32](repeating: -1, count: n * nCand)
        var dist = [Float](repeating: 0, count: n * nCand)
        cand[0] = 1; cand[1] = -1; cand[2] = 2; cand[3] = 3; cand[4] = 4
        dist[0] = 0.5; dist[2] = 0.6; dist[3] = 0.7; dist[4] = 0.8
        let (s, out) = diverse(f, n: n, dim: 2, ld: 2, offsets: false, cand: cand, dist: dist,
                               nCand: nCand, ldc: nCand, k: 3, alpha: 1, beta: 2)
        #expect(s == SG_OK)
        // 1 first; then 3 (cosine 0 with 1) or the zero vector 4 (cosine 0 by definition): 3 is
        // closer; then 4 (redundancy 0) beats 2 (redundancy 1).
        #expect(Array(out[0..<3]) == [1, 3, 4])
        for i in 1..<n { #expect(Array(out[(i * 3)..<(i * 3 + 3)]) == [-1, -1, -1]) }
    }

    @Test("diverse neighbours reject bad input")
    func diverseBadInput() {
        let f: [Float] = [0, 0, 1, 0, 0, 1]
        let n = 3, nCand = 2
        let cand: [Int32] = [1, 2, 0, 2, 0, 1]
        let dist: [Float] = [1, 1, 1, 1.4, 1, 1.4]
        func run(k: Int = 1, ldc: Int = 2, alpha: Float = 1, beta: Float = 1,
                 cand c: [Int32] = cand, dist d: [Float] = dist, ld: Int = 2) -> sg_status {
            diverse(f, n: n, dim: 2, ld: ld, offsets: true, cand: c, dist: d, nCand: nCand,
                    ldc: ldc, k: k, alpha: alpha, beta: beta).0
        }
        #expect(run() == SG_OK)
        #expect(run(k: 2) == SG_OK)
        #expect(run(k: 0) == SG_ERR_SIZE)
        #expect(run(k: 3) == SG_ERR_SIZE)
        #expect(run(ldc: 1) == SG_ERR_SHAPE)
        #expect(run(ld: 1) == SG_ERR_SHAPE)
        #expect(run(alpha: -1) == SG_ERR_ARGUMENT)
        #expect(run(beta: -0.5) == SG_ERR_ARGUMENT)
        #expect(run(alpha: .nan) == SG_ERR_NONFINITE)
        #expect(run(beta: .infinity) == SG_ERR_NONFINITE)
        #expect(run(cand: [1, 3, 0, 2, 0, 1]) == SG_ERR_ARGUMENT)
        #expect(run(dist: [1, .nan, 1, 1, 1, 1]) == SG_ERR_NONFINITE)
        #expect(run(dist: [1, -1, 1, 1, 1, 1]) == SG_ERR_ARGUMENT)
        var badF = f
        badF[3] = .nan
        #expect(diverse(badF, n: n, dim: 2, ld: 2, offsets: true, cand: cand, dist: dist,
                        nCand: nCand, ldc: nCand, k: 1, alpha: 1, beta: 1).0 == SG_ERR_NONFINITE)
        var out = [Int32](repeating: 0, count: 6)
        #expect(sg_diverse_neighbors(nil, 3, 2, 2, 1, cand, dist, 2, 2, 1, 1, 1, &out, 1)
                == SG_ERR_NULL)
        f.withUnsafeBufferPointer { pf in
            #expect(sg_diverse_neighbors(pf.baseAddress, 3, 2, 2, 1, nil, dist, 2, 2, 1, 1, 1,
                                         &out, 1) == SG_ERR_NULL)
            #expect(sg_diverse_neighbors(pf.baseAddress, 3, 2, 2, 1, cand, nil, 2, 2, 1, 1, 1,
                                         &out, 1) == SG_ERR_NULL)
            #expect(sg_diverse_neighbors(pf.baseAddress, 3, 2, 2, 1, cand, dist, 2, 2, 1, 1, 1,
                                         nil, 1) == SG_ERR_NULL)
            #expect(sg_diverse_neighbors(pf.baseAddress, 3, 2, 2, 2, cand, dist, 2, 2, 1, 1, 1,
                                         &out, 1) == SG_ERR_ARGUMENT)
        }
    }
}
