import CKernels
import Testing

// Tests of the CSR kernels in CKernels/src/csr.c. Every produced graph is re-validated with
// sg_csr_validate and compared with an independent Swift computation built on Set<Int32>.

/// Seeded SplitMix64, so every random graph is reproducible.
fileprivate typealias CSRRng = KernelTestRng

fileprivate extension KernelTestRng {
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}

fileprivate struct Graph: Equatable {
    var nRows: Int
    var nCols: Int
    var rowPtr: [Int64]
    var colIdx: [Int32]

    var nnz: Int { Int(rowPtr[nRows]) }
    func row(_ i: Int) -> [Int32] { Array(colIdx[Int(rowPtr[i])..<Int(rowPtr[i + 1])]) }
    var rowSets: [Set<Int32>] { (0..<nRows).map { Set(row($0)) } }

    /// The canonical CSR of per-row column sets.
    init(nRows: Int, nCols: Int, rows: [Set<Int32>]) {
        self.nRows = nRows
        self.nCols = nCols
        rowPtr = [0]
        colIdx = []
        for r in rows {
            colIdx += r.sorted()
            rowPtr.append(Int64(colIdx.count))
        }
    }

    init(nRows: Int, nCols: Int, rowPtr: [Int64], colIdx: [Int32]) {
        self.nRows = nRows
        self.nCols = nCols
        self.rowPtr = rowPtr
        self.colIdx = colIdx
    }

    static func random(_ rng: inout CSRRng, nRows: Int, nCols: Int, density: Double) -> Graph {
        var rows: [Set<Int32>] = []
        for _ in 0..<nRows {
            var s = Set<Int32>()
            for c in 0..<nCols where rng.chance(density) { s.insert(Int32(c)) }
            rows.append(s)
        }
        return Graph(nRows: nRows, nCols: nCols, rows: rows)
    }

    /// Runs `body` with this graph's buffers (col_idx may be NULL when there are no edges).
    func with<R>(_ body: (UnsafePointer<Int64>, UnsafePointer<Int32>?) -> R) -> R {
        rowPtr.withUnsafeBufferPointer { rp in
            colIdx.withUnsafeBufferPointer { ci in body(rp.baseAddress!, ci.baseAddress) }
        }
    }
}

fileprivate func validate(_ g: Graph) -> sg_status {
    g.with { rp, ci in sg_csr_validate(Int64(g.nRows), Int64(g.nCols), rp, ci) }
}

fileprivate func validate(_ nRows: Int, _ nCols: Int, _ rowPtr: [Int64], _ colIdx: [Int32]) -> sg_status {
    validate(Graph(nRows: nRows, nCols: nCols, rowPtr: rowPtr, colIdx: colIdx))
}

/// Calls a producing kernel with fresh output buffers; returns its status, *out_nnz and (on
/// success) the produced graph.
fileprivate func produce(
    nRows: Int, nCols: Int, capacity: Int,
    _ call: (UnsafeMutablePointer<Int64>, UnsafeMutablePointer<Int32>, Int64, UnsafeMutablePointer<Int64>) -> sg_status
) -> (status: sg_status, nnz: Int64, graph: Graph?) {
    var rowPtr = [Int64](repeating: -7, count: nRows + 1)
    // One spare slot past the capacity acts as a canary for writes beyond it.
    var colIdx = [Int32](repeating: -7, count: capacity + 1)
    var nnz: Int64 = -1
    let status = rowPtr.withUnsafeMutableBufferPointer { rp in
        colIdx.withUnsafeMutableBufferPointer { ci in
            withUnsafeMutablePointer(to: &nnz) { call(rp.baseAddress!, ci.baseAddress!, Int64(capacity), $0) }
        }
    }
    #expect(colIdx[capacity] == -7, "kernel wrote past its capacity")
    guard status == SG_OK else { return (status, nnz, nil) }
    let g = Graph(nRows: nRows, nCols: nCols, rowPtr: rowPtr, colIdx: Array(colIdx[0..<Int(nnz)]))
    #expect(Int64(g.nnz) == nnz)
    #expect(validate(g) == SG_OK, "kernel output is not a valid CSR graph")
    return (status, nnz, g)
}

fileprivate func transpose(_ g: Graph, capacity: Int? = nil) -> (status: sg_status, nnz: Int64, graph: Graph?) {
    produce(nRows: g.nCols, nCols: g.nRows, capacity: capacity ?? g.nnz) { orp, oci, cap, onnz in
        g.with { rp, ci in sg_csr_transpose(Int64(g.nRows), Int64(g.nCols), rp, ci, orp, oci, cap, onnz) }
    }
}

fileprivate func symmetrize(_ g: Graph, threads: Int32, capacity: Int? = nil) -> (status: sg_status, nnz: Int64, graph: Graph?) {
    produce(nRows: g.nRows, nCols: g.nCols, capacity: capacity ?? 2 * g.nnz) { orp, oci, cap, onnz in
        g.with { rp, ci in sg_csr_symmetrize(Int64(g.nRows), rp, ci, orp, oci, cap, onnz, threads) }
    }
}

fileprivate func setOp(_ op: sg_set_op, _ a: Graph, _ b: Graph, threads: Int32, capacity: Int? = nil)
    -> (status: sg_status, nnz: Int64, graph: Graph?)
{
    let bound: Int
    switch op {
    case SG_SET_UNION: bound = a.nnz + b.nnz
    case SG_SET_INTERSECTION: bound = min(a.nnz, b.nnz)
    default: bound = a.nnz
    }
    return produce(nRows: a.nRows, nCols: a.nCols, capacity: capacity ?? bound) { orp, oci, cap, onnz in
        a.with { arp, aci in
            b.with { brp, bci in
                sg_csr_set_op(op, Int64(a.nRows), Int64(a.nCols), arp, aci, brp, bci, orp, oci, cap, onnz, threads)
            }
        }
    }
}

fileprivate func selfLoops(_ g: Graph, add: Bool, threads: Int32, capacity: Int? = nil)
    -> (status: sg_status, nnz: Int64, graph: Graph?)
{
    produce(nRows: g.nRows, nCols: g.nCols, capacity: capacity ?? (g.nnz + (add ? g.nRows : 0))) { orp, oci, cap, onnz in
        g.with { rp, ci in sg_csr_self_loops(Int64(g.nRows), rp, ci, add ? 1 : 0, orp, oci, cap, onnz, threads) }
    }
}

fileprivate func fromNeighbors(_ idx: [Int32], nRows: Int, nCols: Int, k: Int, ldi: Int, capacity: Int? = nil)
    -> (status: sg_status, nnz: Int64, graph: Graph?)
{
    produce(nRows: nRows, nCols: nCols, capacity: capacity ?? nRows * k) { orp, oci, cap, onnz in
        idx.withUnsafeBufferPointer {
            sg_csr_from_neighbors(Int64(nRows), Int64(nCols), $0.baseAddress, Int64(k), Int64(ldi), orp, oci, cap, onnz)
        }
    }
}

fileprivate func fromEdges(_ rows: [Int32], _ cols: [Int32], nRows: Int, nCols: Int, symmetric: Bool, capacity: Int? = nil)
    -> (status: sg_status, nnz: Int64, graph: Graph?)
{
    produce(nRows: nRows, nCols: nCols, capacity: capacity ?? rows.count * (symmetric ? 2 : 1)) { orp, oci, cap, onnz in
        rows.withUnsafeBufferPointer { r in
            cols.withUnsafeBufferPointer { c in
                sg_csr_from_edges(Int64(nRows), Int64(nCols), r.baseAddress, c.baseAddress, Int64(rows.count),
                                  symmetric ? 1 : 0, orp, oci, cap, onnz)
            }
        }
    }
}

@Suite("CSR kernels")
struct CSRKernelTests {
    @Test func validateAcceptsWellFormedGraphs() {
        #expect(validate(3, 4, [0, 2, 2, 4], [0, 3, 1, 2]) == SG_OK)
        #expect(validate(2, 2, [0, 0, 0], []) == SG_OK)  // no edges, col_idx NULL
        #expect(validate(1, 1, [0, 1], [0]) == SG_OK)
        var rng = CSRRng(seed: 1)
        for _ in 0..<20 {
            let g = Graph.random(&rng, nRows: 1 + rng.int(30), nCols: 1 + rng.int(30), density: 0.3)
            #expect(validate(g) == SG_OK)
        }
    }

    @Test func validateRejectsMalformedGraphs() {
        #expect(validate(2, 3, [1, 1, 2], [0, 1]) == SG_ERR_GRAPH)        // row_ptr[0] != 0
        #expect(validate(3, 3, [0, 2, 1, 3], [0, 1, 2]) == SG_ERR_GRAPH)  // row_ptr decreases
        #expect(validate(1, 3, [0, 2], [2, 1]) == SG_ERR_GRAPH)           // unsorted row
        #expect(validate(1, 3, [0, 2], [1, 1]) == SG_ERR_GRAPH)           // duplicate column
        #expect(validate(1, 3, [0, 1], [3]) == SG_ERR_GRAPH)              // column == n_cols
        #expect(validate(1, 3, [0, 1], [-1]) == SG_ERR_GRAPH)             // negative column
        #expect(validate(1, 2, [0, 3], [0, 1, 1]) == SG_ERR_GRAPH)        // row longer than n_cols
        #expect(validate(2, 3, [0, 1, 2], [0, 2]) == SG_OK)
        // Sortedness is per row: a smaller column at the start of the next row is fine.
        #expect(validate(2, 3, [0, 1, 2], [2, 0]) == SG_OK)
        #expect(validate(0, 3, [0], []) == SG_ERR_SIZE)
        #expect(validate(3, 0, [0, 0, 0, 0], []) == SG_ERR_SIZE)
        #expect(sg_csr_validate(2, 2, nil, nil) == SG_ERR_NULL)
        let rp: [Int64] = [0, 1, 2]
        let st = rp.withUnsafeBufferPointer { sg_csr_validate(2, 2, $0.baseAddress, nil) }
        #expect(st == SG_ERR_NULL)
    }

    @Test func validateScansLargeGraphsInParallelCorrectly() {
        // Large enough for the OpenMP path; a single bad column near the end must be found.
        var rng = CSRRng(seed: 2)
        var g = Graph.random(&rng, nRows: 500, nCols: 200, density: 0.2)
        #expect(g.nnz > 4096)
        #expect(validate(g) == SG_OK)
        let last = g.nnz - 1
        g.colIdx[last] = Int32(g.nCols)
        #expect(validate(g) == SG_ERR_GRAPH)
    }

    @Test func fromNeighborsSortsDropsNegativesAndMerges() {
        let idx: [Int32] = [3, -1, 1, 3, 99,  // row 0 (99 is stride padding, ldi = 5 > k = 4)
                            -1, -1, -1, -1, 99,  // row 1: empty
                            0, 0, 4, 2, 99]  // row 2
        let r = fromNeighbors(idx, nRows: 3, nCols: 5, k: 4, ldi: 5)
        #expect(r.status == SG_OK)
        #expect(r.graph?.rowPtr == [0, 2, 2, 5])
        #expect(r.graph?.colIdx == [1, 3, 0, 2, 4])
        #expect(r.nnz == 5)
    }

    @Test func fromNeighborsMatchesSetsOnRandomLists() {
        var rng = CSRRng(seed: 3)
        for trial in 0..<10 {
            let n = 1 + rng.int(400), m = 1 + rng.int(50), k = 1 + rng.int(24), ldi = k + rng.int(3)
            var idx = [Int32](repeating: 0, count: n * ldi)
            for i in 0..<idx.count { idx[i] = Int32(rng.int(m + 3)) - 3 }  // ~3/(m+3) negatives
            let expected = (0..<n).map { i in Set(idx[(i * ldi)..<(i * ldi + k)].filter { $0 >= 0 }) }
            let r = fromNeighbors(idx, nRows: n, nCols: m, k: k, ldi: ldi)
            #expect(r.status == SG_OK, "trial \(trial)")
            #expect(r.graph == Graph(nRows: n, nCols: m, rows: expected), "trial \(trial)")
        }
    }

    @Test func fromNeighborsRejectsBadInput() {
        let idx: [Int32] = [0, 1, 2, 3]
        #expect(fromNeighbors(idx, nRows: 2, nCols: 3, k: 2, ldi: 2).status == SG_ERR_GRAPH)  // 3 >= n_cols
        #expect(fromNeighbors(idx, nRows: 2, nCols: 4, k: 2, ldi: 1).status == SG_ERR_SHAPE)
        #expect(fromNeighbors(idx, nRows: 2, nCols: 4, k: 0, ldi: 2, capacity: 4).status == SG_ERR_SIZE)
        let small = fromNeighbors(idx, nRows: 2, nCols: 4, k: 2, ldi: 2, capacity: 3)
        #expect(small.status == SG_ERR_CAPACITY)
        #expect(small.nnz == 4)  // the size a retry needs
        #expect(fromNeighbors(idx, nRows: 2, nCols: 4, k: 2, ldi: 2, capacity: 4).status == SG_OK)
        var rp = [Int64](repeating: 0, count: 3)
        var ci = [Int32](repeating: 0, count: 4)
        var nnz: Int64 = 0
        #expect(sg_csr_from_neighbors(2, 4, nil, 2, 2, &rp, &ci, 4, &nnz) == SG_ERR_NULL)
        let st = idx.withUnsafeBufferPointer { sg_csr_from_neighbors(2, 4, $0.baseAddress, 2, 2, &rp, &ci, 4, nil) }
        #expect(st == SG_ERR_NULL)
    }

    @Test func fromEdgesMergesDuplicatesAndSymmetrizes() {
        var rng = CSRRng(seed: 4)
        for trial in 0..<10 {
            let n = 1 + rng.int(60), m = 1 + rng.int(60), e = rng.int(300)
            let rows = (0..<e).map { _ in Int32(rng.int(n)) }
            let cols = (0..<e).map { _ in Int32(rng.int(m)) }
            var sets = [Set<Int32>](repeating: [], count: n)
            for (r, c) in zip(rows, cols) { sets[Int(r)].insert(c) }
            let r = fromEdges(rows, cols, nRows: n, nCols: m, symmetric: false)
            #expect(r.status == SG_OK)
            #expect(r.graph == Graph(nRows: n, nCols: m, rows: sets), "trial \(trial)")

            let sq = Swift.max(n, m)
            let rowsS = (0..<e).map { _ in Int32(rng.int(sq)) }
            let colsS = (0..<e).map { _ in Int32(rng.int(sq)) }
            var symSets = [Set<Int32>](repeating: [], count: sq)
            for (r, c) in zip(rowsS, colsS) { symSets[Int(r)].insert(c); symSets[Int(c)].insert(r) }
            let s = fromEdges(rowsS, colsS, nRows: sq, nCols: sq, symmetric: true)
            #expect(s.status == SG_OK)
            #expect(s.graph == Graph(nRows: sq, nCols: sq, rows: symSets), "trial \(trial)")
        }
    }

    @Test func fromEdgesRejectsBadInput() {
        #expect(fromEdges([0, 2], [1, 0], nRows: 2, nCols: 2, symmetric: false).status == SG_ERR_GRAPH)
        #expect(fromEdges([0, -1], [1, 0], nRows: 2, nCols: 2, symmetric: false).status == SG_ERR_GRAPH)
        #expect(fromEdges([0], [1], nRows: 2, nCols: 3, symmetric: true).status == SG_ERR_SHAPE)
        let small = fromEdges([0, 1, 1], [1, 0, 0], nRows: 2, nCols: 2, symmetric: false, capacity: 1)
        #expect(small.status == SG_ERR_CAPACITY)
        #expect(small.nnz == 2)
        #expect(fromEdges([0, 1, 1], [1, 0, 0], nRows: 2, nCols: 2, symmetric: false, capacity: 2).status == SG_OK)
        #expect(fromEdges([], [], nRows: 3, nCols: 3, symmetric: true).graph?.rowPtr == [0, 0, 0, 0])
    }

    @Test func transposeMatchesSetsAndTwiceIsIdentity() {
        var rng = CSRRng(seed: 5)
        for _ in 0..<15 {
            let g = Graph.random(&rng, nRows: 1 + rng.int(40), nCols: 1 + rng.int(40), density: 0.25)
            let t = transpose(g)
            #expect(t.status == SG_OK)
            guard let tg = t.graph else { continue }
            var expected = [Set<Int32>](repeating: [], count: g.nCols)
            for i in 0..<g.nRows { for c in g.row(i) { expected[Int(c)].insert(Int32(i)) } }
            #expect(tg == Graph(nRows: g.nCols, nCols: g.nRows, rows: expected))
            #expect(transpose(tg).graph == g)
        }
    }

    @Test func transposeChecksInputAndCapacity() {
        let g = Graph(nRows: 2, nCols: 3, rowPtr: [0, 2, 3], colIdx: [0, 2, 2])
        let small = transpose(g, capacity: 2)
        #expect(small.status == SG_ERR_CAPACITY)
        #expect(small.nnz == 3)
        let bad = Graph(nRows: 2, nCols: 3, rowPtr: [0, 2, 3], colIdx: [2, 0, 2])
        #expect(transpose(bad).status == SG_ERR_GRAPH)
    }

    @Test func symmetrizeIsSymmetricAndContainsA() throws {
        var rng = CSRRng(seed: 6)
        for _ in 0..<10 {
            let n = 1 + rng.int(50)
            let g = Graph.random(&rng, nRows: n, nCols: n, density: 0.15)
            let s = symmetrize(g, threads: 0)
            #expect(s.status == SG_OK)
            guard let sg = s.graph else { continue }
            let rows = sg.rowSets
            for i in 0..<n {
                #expect(rows[i].isSuperset(of: g.row(i)))
                for j in rows[i] { #expect(rows[Int(j)].contains(Int32(i)), "edge \(i)->\(j) has no reverse") }
            }
            #expect(transpose(sg).graph == sg)
            // Exactly A ∪ Aᵀ, nothing more.
            let t = try #require(transpose(g).graph)
            #expect(sg == setOp(SG_SET_UNION, g, t, threads: 1).graph)
        }
        let rect = Graph(nRows: 2, nCols: 3, rowPtr: [0, 1, 1], colIdx: [2])
        #expect(symmetrize(rect, threads: 1).status == SG_ERR_GRAPH)  // column 2 outside a 2-node graph
        let g = Graph(nRows: 3, nCols: 3, rowPtr: [0, 2, 2, 2], colIdx: [1, 2])
        #expect(symmetrize(g, threads: 1, capacity: 3).status == SG_ERR_CAPACITY)
        #expect(symmetrize(g, threads: 1, capacity: 4).graph?.colIdx == [1, 2, 0, 0])
    }

    @Test func setOperationsMatchSwiftSets() {
        var rng = CSRRng(seed: 7)
        for trial in 0..<15 {
            let n = 1 + rng.int(40), m = 1 + rng.int(40)
            let a = Graph.random(&rng, nRows: n, nCols: m, density: 0.3)
            let b = Graph.random(&rng, nRows: n, nCols: m, density: 0.3)
            let ar = a.rowSets, br = b.rowSets
            let cases: [(sg_set_op, [Set<Int32>])] = [
                (SG_SET_UNION, zip(ar, br).map { $0.union($1) }),
                (SG_SET_INTERSECTION, zip(ar, br).map { $0.intersection($1) }),
                (SG_SET_DIFFERENCE, zip(ar, br).map { $0.subtracting($1) }),
            ]
            for (op, expected) in cases {
                let r = setOp(op, a, b, threads: Int32(1 + trial % 2))
                #expect(r.status == SG_OK)
                #expect(r.graph == Graph(nRows: n, nCols: m, rows: expected), "op \(op.rawValue) trial \(trial)")
            }
        }
    }

    @Test func setAlgebraIdentities() {
        var rng = CSRRng(seed: 8)
        for _ in 0..<10 {
            let n = 1 + rng.int(60), m = 1 + rng.int(60)
            let a = Graph.random(&rng, nRows: n, nCols: m, density: 0.4)
            let b = Graph.random(&rng, nRows: n, nCols: m, density: 0.4)
            guard let diff = setOp(SG_SET_DIFFERENCE, a, b, threads: 2).graph,
                  let inter = setOp(SG_SET_INTERSECTION, a, b, threads: 2).graph
            else { Issue.record("set op failed"); continue }
            #expect(setOp(SG_SET_INTERSECTION, diff, b, threads: 2).graph?.nnz == 0)
            #expect(setOp(SG_SET_UNION, diff, inter, threads: 2).graph == a)
            #expect(setOp(SG_SET_UNION, a, a, threads: 2).graph == a)
            #expect(setOp(SG_SET_DIFFERENCE, a, a, threads: 2).graph?.nnz == 0)
        }
    }

    @Test func setOperationsRejectBadInput() {
        let a = Graph(nRows: 2, nCols: 3, rowPtr: [0, 2, 3], colIdx: [0, 1, 2])
        let b = Graph(nRows: 2, nCols: 3, rowPtr: [0, 1, 2], colIdx: [2, 0])
        let bad = Graph(nRows: 2, nCols: 3, rowPtr: [0, 2, 3], colIdx: [1, 1, 2])
        #expect(setOp(SG_SET_UNION, a, b, threads: 1, capacity: 4).status == SG_ERR_CAPACITY)
        #expect(setOp(SG_SET_UNION, a, b, threads: 1, capacity: 5).graph?.colIdx == [0, 1, 2, 0, 2])
        #expect(setOp(SG_SET_UNION, a, bad, threads: 1).status == SG_ERR_GRAPH)
        #expect(setOp(SG_SET_UNION, bad, b, threads: 1).status == SG_ERR_GRAPH)
        #expect(setOp(sg_set_op(rawValue: 9), a, b, threads: 1, capacity: 5).status == SG_ERR_ARGUMENT)
    }

    @Test func selfLoopsAddAndRemove() throws {
        var rng = CSRRng(seed: 9)
        for _ in 0..<10 {
            let n = 1 + rng.int(50)
            let g = Graph.random(&rng, nRows: n, nCols: n, density: 0.2)
            var withLoops = g.rowSets, without = g.rowSets
            for i in 0..<n { withLoops[i].insert(Int32(i)); without[i].remove(Int32(i)) }
            let added = selfLoops(g, add: true, threads: 2)
            let removed = selfLoops(g, add: false, threads: 2)
            #expect(added.graph == Graph(nRows: n, nCols: n, rows: withLoops))
            #expect(removed.graph == Graph(nRows: n, nCols: n, rows: without))
            let looped = try #require(added.graph)
            #expect(selfLoops(looped, add: true, threads: 1).graph == looped)
            #expect(selfLoops(looped, add: false, threads: 1).graph == removed.graph)
        }
        let g = Graph(nRows: 3, nCols: 3, rowPtr: [0, 1, 1, 2], colIdx: [0, 1])
        #expect(selfLoops(g, add: true, threads: 1, capacity: 3).status == SG_ERR_CAPACITY)
        #expect(selfLoops(g, add: true, threads: 1, capacity: 4).graph?.colIdx == [0, 1, 1, 2])
        #expect(selfLoops(g, add: false, threads: 1).graph?.colIdx == [1])
        let rect = Graph(nRows: 2, nCols: 3, rowPtr: [0, 0, 1], colIdx: [2])
        #expect(selfLoops(rect, add: true, threads: 1).status == SG_ERR_GRAPH)
    }

    @Test func resultsDoNotDependOnThreadCount() {
        // Big enough (> 4096 entries) for the kernels' OpenMP paths.
        var rng = CSRRng(seed: 10)
        let n = 1500
        let a = Graph.random(&rng, nRows: n, nCols: n, density: 0.006)
        let b = Graph.random(&rng, nRows: n, nCols: n, density: 0.006)
        #expect(a.nnz > 4096)
        for op in [SG_SET_UNION, SG_SET_INTERSECTION, SG_SET_DIFFERENCE] {
            let one = setOp(op, a, b, threads: 1), two = setOp(op, a, b, threads: 2)
            #expect(one.status == SG_OK)
            #expect(one.graph == two.graph)
            #expect(one.graph == Graph(nRows: n, nCols: n, rows: zip(a.rowSets, b.rowSets).map {
                op == SG_SET_UNION ? $0.union($1) : op == SG_SET_INTERSECTION ? $0.intersection($1) : $0.subtracting($1)
            }))
        }
        #expect(symmetrize(a, threads: 1).graph == symmetrize(a, threads: 2).graph)
        #expect(selfLoops(a, add: true, threads: 1).graph == selfLoops(a, add: true, threads: 2).graph)
        #expect(selfLoops(a, add: false, threads: 1).graph == selfLoops(a, add: false, threads: 2).graph)
    }

    @Test func maskMatchesEdges() {
        var rng = CSRRng(seed: 11)
        let g = Graph.random(&rng, nRows: 17, nCols: 23, density: 0.3)
        let ldm = 25
        var mask = [UInt8](repeating: 7, count: g.nRows * ldm)
        let st = g.with { rp, ci in
            mask.withUnsafeMutableBufferPointer { sg_csr_to_mask(Int64(g.nRows), Int64(g.nCols), rp, ci, $0.baseAddress, Int64(ldm)) }
        }
        #expect(st == SG_OK)
        let rows = g.rowSets
        for i in 0..<g.nRows {
            for j in 0..<g.nCols { #expect(mask[i * ldm + j] == (rows[i].contains(Int32(j)) ? 1 : 0)) }
            for j in g.nCols..<ldm { #expect(mask[i * ldm + j] == 7, "stride padding was touched") }
        }
        let short = g.with { rp, ci in
            mask.withUnsafeMutableBufferPointer { sg_csr_to_mask(Int64(g.nRows), Int64(g.nCols), rp, ci, $0.baseAddress, 22) }
        }
        #expect(short == SG_ERR_SHAPE)
        let noMask = g.with { rp, ci in sg_csr_to_mask(Int64(g.nRows), Int64(g.nCols), rp, ci, nil, Int64(ldm)) }
        #expect(noMask == SG_ERR_NULL)
    }
}
