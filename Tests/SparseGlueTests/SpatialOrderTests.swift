import Testing
@testable import SparseGlue

@Suite struct SpatialOrderTests {
    @Test func hilbertIsADeterministicPermutation() throws {
        var rng = SeededGenerator(seed: 21)
        let pts = try Matrix.uniform(rows: 777, columns: 2, in: 0...640, using: &rng)
        let order = try SpatialOrder.hilbert(pts)
        #expect(order.sorted() == Array(0..<pts.rows))
        #expect(try SpatialOrder.hilbert(pts) == order)
        #expect(try SpatialOrder.hilbert(try Matrix(rows: 1, columns: 2, values: [3, 4])) == [0])
    }

    @Test func renumberingMakesNeighboursClose() throws {
        var rng = SeededGenerator(seed: 22)
        let pts = try Matrix.uniform(rows: 2048, columns: 2, in: 0...640, using: &rng)
        func meanSpan(_ p: Matrix) throws -> Double {
            let g = try KNNGraph.build(points: p, k: 16, includeSelf: false)
            var sum = 0.0
            for r in 0..<g.rowCount { for c in g.neighbors(of: r) { sum += Double(abs(Int(c) - r)) } }
            return sum / Double(g.edgeCount)
        }
        let ordered = try pts.permutingRows(try SpatialOrder.hilbert(pts))
        let before = try meanSpan(pts), after = try meanSpan(ordered)
        #expect(after * 8 < before, "mean |i - j| \(before) -> \(after)")
    }

    @Test func attentionOnRenumberedPointsIsThePermutedResult() throws {
        var rng = SeededGenerator(seed: 23)
        let n = 300, d = 64
        let pts = try Matrix.uniform(rows: n, columns: 2, in: 0...640, using: &rng)
        let x = try Matrix.gaussian(rows: n, columns: d, using: &rng)
        let order = try SpatialOrder.hilbert(pts)
        let g = try KNNGraph.build(points: pts, k: 12)
        let out = try AttentionOperator.apply(queries: x, keys: x, values: x, heads: 4, graph: g, backend: .sparse).output

        let pts2 = try pts.permutingRows(order), x2 = try x.permutingRows(order)
        let g2 = try KNNGraph.build(points: pts2, k: 12)
        let out2 = try AttentionOperator.apply(queries: x2, keys: x2, values: x2, heads: 4, graph: g2, backend: .sparse).output
        // Same graph up to renumbering (no distance ties in random points), so the same rows up to
        // summation order.
        #expect(try relativeError(out2, try out.permutingRows(order)) < 1e-5)
    }

    @Test func permutingRowsMovesRowsAndChecksThePermutation() throws {
        let m = try Matrix(rowArrays: [[1, 2], [3, 4], [5, 6]])
        #expect(try m.permutingRows([2, 0, 1]) == (try Matrix(rowArrays: [[5, 6], [1, 2], [3, 4]])))
        #expect(try m.permutingRows([0, 1, 2]) == m)
        #expect(thrownError { _ = try m.permutingRows([0, 1]) } != nil)
        #expect(thrownError { _ = try m.permutingRows([0, 0, 1]) } != nil)
        #expect(thrownError { _ = try m.permutingRows([0, 1, 3]) } != nil)
        #expect(thrownError { _ = try m.permutingRows([0, -1, 2]) } != nil)
    }

    @Test func hilbertRejectsBadPoints() throws {
        #expect(thrownError { _ = try SpatialOrder.hilbert(try Matrix(rows: 3, columns: 3)) } != nil)
        #expect(thrownError { _ = try SpatialOrder.hilbert(try Matrix(rows: 0, columns: 2)) } != nil)
        let bad = try Matrix(rows: 2, columns: 2, values: [0, 1, .nan, 2])
        if case .nonFiniteInput = thrownError({ _ = try SpatialOrder.hilbert(bad) }) {} else {
            Issue.record("expected nonFiniteInput")
        }
    }
}
