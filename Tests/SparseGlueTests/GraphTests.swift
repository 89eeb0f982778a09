import Testing
@testable import SparseGlue

@Suite struct GraphTests {
    @Test func csrInvariantsAreEnforced() {
        // row pointers not starting at 0, decreasing, unsorted / duplicate / out-of-range columns
        #expect(thrownError { _ = try CSRGraph(rowCount: 2, columnCount: 3, rowPointers: [1, 2, 3], columnIndices: [0, 1, 2]) } != nil)
        #expect(thrownError { _ = try CSRGraph(rowCount: 2, columnCount: 3, rowPointers: [0, 2, 1], columnIndices: [0, 1]) } != nil)
        #expect(thrownError { _ = try CSRGraph(rowCount: 1, columnCount: 3, rowPointers: [0, 2], columnIndices: [2, 1]) } != nil)
        #expect(thrownError { _ = try CSRGraph(rowCount: 1, columnCount: 3, rowPointers: [0, 2], columnIndices: [1, 1]) } != nil)
        #expect(thrownError { _ = try CSRGraph(rowCount: 1, columnCount: 3, rowPointers: [0, 1], columnIndices: [3]) } != nil)
        #expect(thrownError { _ = try CSRGraph(rowCount: 1, columnCount: 3, rowPointers: [0, 1], columnIndices: [-1]) } != nil)
        #expect(thrownError { _ = try CSRGraph(rowCount: 2, columnCount: 3, rowPointers: [0, 1], columnIndices: [0]) } != nil)
        #expect(thrownError { _ = try CSRGraph(rowCount: 0, columnCount: 3, rowPointers: [0], columnIndices: []) } != nil)
        let ok = try? CSRGraph(rowCount: 2, columnCount: 3, rowPointers: [0, 2, 2], columnIndices: [0, 2])
        #expect(ok?.degree(of: 1) == 0)
        #expect(ok?.contains(row: 0, column: 2) == true)
        #expect(ok?.contains(row: 0, column: 1) == false)
    }

    @Test func knnGraphMatchesBruteForceWithTies() throws {
        let pts = try gridPoints(300, seed: 11)
        let k = 10
        let lists = try KNNGraph.neighbors(of: pts, among: pts, k: k, excludingSelf: true)
        for i in 0..<pts.rows {
            var order: [(distance: Float, index: Int)] = []
            for j in 0..<pts.rows where j != i {
                let dx = pts[i, 0] - pts[j, 0], dy = pts[i, 1] - pts[j, 1]
                order.append((dx * dx + dy * dy, j))
            }
            order.sort { a, b in a.distance != b.distance ? a.distance < b.distance : a.index < b.index }
            let expected: [Int] = order.prefix(k).map { $0.index }
            let got: [Int] = lists.neighbors(of: i).map { Int($0) }
            #expect(got == expected)
        }
        let g = try KNNGraph.build(points: pts, k: k)
        #expect(g.edgeCount == pts.rows * (k + 1))   // k neighbours plus self
        #expect((0..<pts.rows).allSatisfy { g.contains(row: $0, column: $0) })
    }

    @Test func nestedPairIsNested() throws {
        let pts = try randomMatrix(500, 2, seed: 3)
        let p = try GraphPair.nested(points: pts, k1: 6, k2: 20)
        #expect(try p.g1.intersection(p.g2) == p.g1)
        #expect(edgeSet(p.g1).isSubset(of: edgeSet(p.g2)))
        #expect(p.g2 == (try KNNGraph.build(points: pts, k: 20)))
        #expect(p.g1 == (try KNNGraph.build(points: pts, k: 6)))
    }

    @Test func disjointPairIsDisjointAndCoversKNN() throws {
        let pts = try gridPoints(400, range: 30, seed: 4)
        let p = try GraphPair.disjoint(points: pts, k1: 5, k2: 16)
        #expect(edgeSet(p.g1).isDisjoint(with: edgeSet(p.g2)))
        #expect(try p.g1.intersection(p.g2).edgeCount == 0)
        #expect(try p.g1.union(p.g2) == KNNGraph.build(points: pts, k: 16))
        #expect(p.g2.edgeCount == pts.rows * (16 - 5))
    }

    @Test func descriptorPairsAndCrossGraphs() throws {
        let a = try randomMatrix(200, 128, seed: 5), b = try randomMatrix(150, 128, seed: 6)
        let p = try GraphPair.nested(points: a, k1: 4, k2: 12, metric: .cosine)
        #expect(edgeSet(p.g1).isSubset(of: edgeSet(p.g2)))
        let cross = try KNNGraph.cross(from: a, to: b, k: 8)
        #expect(cross.rowCount == 200 && cross.columnCount == 150 && cross.edgeCount == 200 * 8)
        // Row 0's neighbours are its 8 most cosine-similar rows of b.
        let norms = b.rowNorms(), na = a.rowNorms()[0]
        let sims = (0..<b.rows).map { j -> (Float, Int) in
            var s: Float = 0
            for t in 0..<128 { s += a[0, t] * b[j, t] }
            return (s / (na * norms[j]), j)
        }.sorted { $0.0 > $1.0 }
        #expect(Set(cross.neighbors(of: 0).map(Int.init)) == Set(sims.prefix(8).map(\.1)))
    }

    @Test func setOperationsAndSymmetry() throws {
        let pts = try randomMatrix(120, 2, seed: 7)
        let a = try KNNGraph.build(points: pts, k: 5, includeSelf: false)
        let b = try KNNGraph.build(points: pts, k: 9, includeSelf: false)
        let s = try a.symmetrized()
        #expect(try s.transposed() == s)
        #expect(edgeSet(a).isSubset(of: edgeSet(s)))
        #expect(edgeSet(try b.subtracting(a)) == edgeSet(b).subtracting(edgeSet(a)))
        #expect(try a.addingSelfLoops().removingSelfLoops() == a)
        let wide = try CSRGraph.complete(rows: 120, columns: 7)
        #expect(thrownError { _ = try a.union(wide) } != nil)
        #expect(thrownError { _ = try wide.symmetrized() } != nil)
    }

    @Test func equalPartitionIsBalancedAndCovering() throws {
        let pts = try randomMatrix(1003, 2, seed: 8)
        for groups in [1, 2, 7, 64, 1003] {
            let part = try EqualPartition(points: pts, groups: groups)
            let sizes = part.members.map(\.count)
            #expect(sizes.reduce(0, +) == 1003)
            #expect(sizes.max()! - sizes.min()! <= 1)
            let g = try part.graph()
            #expect(g.edgeCount == sizes.map { $0 * $0 }.reduce(0, +))
            // Block-diagonal: an edge never leaves its group.
            for r in stride(from: 0, to: 1003, by: 17) {
                #expect(g.neighbors(of: r).allSatisfy { part.groupOfPoint[Int($0)] == part.groupOfPoint[r] })
            }
        }
        #expect(thrownError { _ = try EqualPartition(points: pts, groups: 0) } != nil)
        #expect(thrownError { _ = try EqualPartition(points: pts, groups: 1004) } != nil)
    }

    @Test func spanningTreeIsMinimal() throws {
        for seed in UInt64(1)...4 {
            let pts = try randomMatrix(60, 2, seed: seed)
            let tree = try MinimumSpanningTree(points: pts)
            #expect(tree.edges.count == 59)
            let g = try tree.graph(includeSelf: false)
            #expect(g.edgeCount == 2 * 59)
            #expect(try g.transposed() == g)
            // Independent Prim in Swift on the complete graph.
            var inTree = [Bool](repeating: false, count: 60), best = [Double](repeating: .infinity, count: 60)
            best[0] = 0
            var total = 0.0
            for _ in 0..<60 {
                let u = (0..<60).filter { !inTree[$0] }.min { best[$0] < best[$1] }!
                inTree[u] = true
                total += best[u]
                for v in 0..<60 where !inTree[v] {
                    let dx = Double(pts[u, 0] - pts[v, 0]), dy = Double(pts[u, 1] - pts[v, 1])
                    best[v] = min(best[v], (dx * dx + dy * dy).squareRoot())
                }
            }
            #expect(abs(tree.totalLength - total) <= 1e-4 * total)
            // Connected: every node reaches the root.
            for i in 0..<60 {
                var j = i, steps = 0
                while tree.parents[j] >= 0 && steps <= 60 { j = Int(tree.parents[j]); steps += 1 }
                #expect(j == 0)
            }
        }
        let withKNN = try MinimumSpanningTree(points: try randomMatrix(50, 2, seed: 9))
            .graph(unionWithKNN: 4, points: try randomMatrix(50, 2, seed: 9))
        #expect(withKNN.edgeCount >= 50 * 5)
    }

    @Test func diverseNeighborsPreferNewDirections() throws {
        let pts = try randomMatrix(300, 2, seed: 10)
        // beta = 0: plain kNN.
        #expect(try DiverseNeighbors.build(points: pts, k: 6, candidates: 20, beta: 0) == KNNGraph.build(points: pts, k: 6))
        // A point with a tight cluster to its right and one farther point to its left: kNN(2)
        // takes two cluster points, the diverse choice takes one of each side.
        let line = try Matrix(rowArrays: [[0, 0], [1, 0], [1.1, 0.01], [1.2, -0.01], [-2, 0]])
        let g = try DiverseNeighbors.build(points: line, k: 2, candidates: 4, alpha: 1, beta: 1, includeSelf: false)
        #expect(Array(g.neighbors(of: 0)) == [1, 4])
        #expect(Array(try KNNGraph.build(points: line, k: 2, includeSelf: false).neighbors(of: 0)) == [1, 2])
    }

    @Test func badGraphInputsThrow() throws {
        let pts = try randomMatrix(10, 2, seed: 1)
        #expect(thrownError { _ = try KNNGraph.build(points: pts, k: 0) } != nil)
        #expect(thrownError { _ = try KNNGraph.build(points: pts, k: 10) } != nil)
        #expect(thrownError { _ = try KNNGraph.build(points: Matrix(rows: 0, columns: 2), k: 1) } != nil)
        #expect(thrownError { _ = try KNNGraph.cross(from: pts, to: randomMatrix(5, 3, seed: 2), k: 2) } != nil)
        var bad = pts
        bad[3, 1] = .nan
        #expect(thrownError { _ = try KNNGraph.build(points: bad, k: 2) } == .nonFiniteInput("k-NN queries contains NaN or Inf"))
        bad[3, 1] = -.infinity
        #expect(thrownError { _ = try MinimumSpanningTree(points: bad) } != nil)
        #expect(thrownError { _ = try GraphPair.nested(points: pts, k1: 5, k2: 5) } != nil)
        #expect(thrownError { _ = try DiverseNeighbors.build(points: pts, k: 5, candidates: 4) } != nil)
    }

    @Test func fastTopDotAgreesWithTheExactSearch() throws {
        let a = try randomMatrix(300, 64, seed: 21), b = try randomMatrix(700, 64, seed: 22)
        let fast = try KNNGraph.fastTopDot(of: a, among: b, k: 16)
        let exact = try KNNGraph.neighbors(of: a, among: b, k: 16, metric: .dot)
        // Random Gaussian data: no near-ties, so the lists are identical; scores within float rounding.
        #expect(fast.indices == exact.indices)
        #expect(zip(fast.scores, exact.scores).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        #expect(try KNNGraph.fastTopDot(of: a, among: b, k: 16, threads: 1) == fast)
        #expect(thrownError { _ = try KNNGraph.fastTopDot(of: a, among: b, k: 701) } != nil)
        var bad = a
        bad[3, 5] = .nan
        #expect(thrownError { _ = try KNNGraph.fastTopDot(of: bad, among: b, k: 4) } != nil)
    }
}
