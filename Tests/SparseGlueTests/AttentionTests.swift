import Testing
@testable import SparseGlue

@Suite struct AttentionTests {
    let n = 96, m = 80, d = 32, heads = 4

    @Test func backendsAgreeOnTheCompleteGraph() throws {
        let q = try randomMatrix(n, d, seed: 1), k = try randomMatrix(m, d, seed: 2), v = try randomMatrix(m, d, seed: 3)
        let complete = try CSRGraph.complete(rows: n, columns: m)
        let dense = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: heads, graph: nil, backend: .dense).output
        let sparse = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: heads, graph: complete, backend: .sparse).output
        let masked = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: heads, graph: complete, backend: .masked).output
        #expect(try relativeError(sparse, dense) <= 1e-5)
        #expect(try relativeError(masked, dense) <= 1e-5)
    }

    @Test func maskedEqualsSparseOnAKNNGraphAndWeightsSumToOne() throws {
        let pts = try randomMatrix(n, 2, seed: 4)
        let x = try randomMatrix(n, d, seed: 5)
        let g = try KNNGraph.build(points: pts, k: 7)
        let sparse = try AttentionOperator.apply(queries: x, keys: x, values: x, heads: heads, graph: g, backend: .sparse,
                                                 returnWeights: true)
        let masked = try AttentionOperator.apply(queries: x, keys: x, values: x, heads: heads, graph: g, backend: .masked).output
        #expect(try relativeError(sparse.output, masked) <= 1e-5)
        let w = try #require(sparse.edgeWeights)
        #expect(w.count == g.edgeCount * heads)
        for r in 0..<n {
            for h in 0..<heads {
                var s: Float = 0
                for e in Int(g.rowPointers[r])..<Int(g.rowPointers[r + 1]) { s += w[e * heads + h] }
                #expect(abs(s - 1) < 1e-5)
            }
        }
    }

    @Test func rowsWithoutEdgesGiveZeros() throws {
        let q = try randomMatrix(3, 8, seed: 6), kv = try randomMatrix(4, 8, seed: 7)
        let g = try CSRGraph(rowCount: 3, columnCount: 4, rowPointers: [0, 2, 2, 3], columnIndices: [0, 3, 1])
        for backend in [AttentionBackend.sparse, .masked] {
            let out = try AttentionOperator.apply(queries: q, keys: kv, values: kv, heads: 2, graph: g, backend: backend).output
            #expect(out.row(1).allSatisfy { $0 == 0 })
            #expect(out.isFinite)
            #expect(out.row(0).contains { $0 != 0 })
        }
    }

    @Test func badAttentionInputsThrow() throws {
        let x = try randomMatrix(10, 12, seed: 8)
        let g = try KNNGraph.build(points: randomMatrix(10, 2, seed: 9), k: 3)
        // dense cannot do a sparse graph; heads must divide d; graph must fit the sets
        #expect(thrownError { _ = try AttentionOperator.apply(queries: x, keys: x, values: x, heads: 2, graph: g, backend: .dense) } != nil)
        #expect(thrownError { _ = try AttentionOperator.apply(queries: x, keys: x, values: x, heads: 5, graph: g, backend: .sparse) } != nil)
        let other = try randomMatrix(11, 12, seed: 10)
        #expect(thrownError { _ = try AttentionOperator.apply(queries: x, keys: other, values: other, heads: 2, graph: g, backend: .sparse) } != nil)
        #expect(thrownError { _ = try AttentionOperator.apply(queries: x, keys: x, values: other, heads: 2, graph: g, backend: .sparse) } != nil)
        var bad = x
        bad[2, 2] = .nan
        #expect(thrownError { _ = try AttentionOperator.apply(queries: bad, keys: x, values: x, heads: 2, graph: g, backend: .sparse) } != nil)
        #expect(thrownError { _ = try AttentionOperator.apply(queries: bad, keys: x, values: x, heads: 2, graph: nil, backend: .dense) } != nil)
        // masked-dense refuses a mask over its budget instead of allocating it
        let e = thrownError { _ = try AttentionOperator.apply(queries: x, keys: x, values: x, heads: 2, graph: g,
                                                              backend: .maskedDense(memoryBudgetBytes: 50)) }
        #expect(e == .memoryBudgetExceeded(requiredBytes: 100, budgetBytes: 50, what: "a 10×10 attention mask"))
        #expect(thrownError { _ = try AttentionBackend(name: "flash") } != nil)
    }

    @Test func denseAndMaskedResultsDoNotDependOnThreads() throws {
        // Dense work is split into fixed (query block, head) tasks, so the thread count only
        // decides who computes a task, never how. (OpenBLAS's own thread count is process-global
        // and SparseGlue keeps it at 1; tests must not change it while others run.)
        let q = try randomMatrix(600, 64, seed: 14), k = try randomMatrix(500, 64, seed: 15), v = try randomMatrix(500, 64, seed: 16)
        let g = try KNNGraph.cross(from: q, to: k, k: 20)
        for backend in [AttentionBackend.dense, .masked] {
            let graph = backend == .dense ? nil : g
            let one = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: 2, graph: graph, backend: backend, threads: 1).output
            let two = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: 2, graph: graph, backend: backend, threads: 2).output
            #expect(one == two, "\(backend)")
        }
    }

    @Test func multiHeadLayerBackendsAgree() throws {
        var rng = SeededGenerator(seed: 11)
        let layer = try MultiHeadAttention(dimension: d, heads: heads, generator: &rng)
        let x = try randomMatrix(n, d, seed: 12), s = try randomMatrix(m, d, seed: 13)
        let dense = try layer(x, senders: s, graph: nil, backend: .dense)
        let sparse = try layer(x, senders: s, graph: try CSRGraph.complete(rows: n, columns: m), backend: .sparse)
        #expect(try relativeError(sparse, dense) <= 1e-5)
        #expect(thrownError { _ = try MultiHeadAttention(dimension: 30, heads: 4, generator: &rng) } != nil)
    }
}
