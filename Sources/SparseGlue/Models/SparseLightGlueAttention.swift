// Sparse LightGlue's attention: the self and cross blocks' sparse branches (per-head graphs, far
// fields, cross graphs found from the layer's own logits).
import Foundation

extension LightGlue {
    /// Self-attention of the rotary-encoded q, k on `graph`'s edges (per head when the graph is
    /// head-interleaved; an edgeless placeholder when the sparsity ranks self keys by logits).
    func sparseSelfAttention(_ q: Matrix, _ k: Matrix, _ v: Matrix, graph: CSRGraph) throws -> Matrix {
        let h = configuration.heads, n = q.rows
        let s = configuration.sparsity ?? LightGlueSparsity()
        // Keys every row adds, found from q and k: hubs (largest ⟨q̄, k_j⟩) and logit peaks.
        var extra: CSRGraph?
        if s.selfHubs > 0 {
            let ones = Matrix(uncheckedRows: 1, columns: n, values: [Float](repeating: 1 / Float(n), count: n))
            let hubs = try KNNGraph.neighbors(of: ones.matmul(q, threads: threads), among: k, k: Swift.min(s.selfHubs, n),
                                              metric: .dot, threads: threads).indices
            extra = try SparseAttention.broadcast(hubs, rows: n, columns: n)
        }
        if let lk = s.selfLogitK {
            let peaks = try KNNGraph.neighbors(of: q, among: k, k: Swift.min(lk, n), metric: .dot, threads: threads).graph()
            extra = try extra.map { try $0.union(peaks, threads: threads) } ?? peaks
        }
        if s.selfScores == .headLogits, let kk = s.selfK {
            var lists = try SparseAttention.headTopK(q, k, heads: h, k: kk, threads: threads)
            if let extra { lists = try SparseAttention.appending(extra, to: lists, rows: n) }
            let g = try SparseAttention.interleavedGraph(lists, rows: n, columns: k.rows, heads: h)
            return try SparseAttention.apply(q, k, v, heads: h, graph: g, threads: threads)
        }
        if graph.isSquare && graph.rowCount > n && graph.rowCount < 2 * n {
            let e = Int(graph.rowPointers[n])
            var attention = CSRGraph(unchecked: n, graph.columnCount, Array(graph.rowPointers[0...n]),
                                     Array(graph.columnIndices[0..<e]))
            let members = CSRGraph(unchecked: graph.rowCount - n, n, graph.rowPointers[n...].map { $0 - Int64(e) },
                                   Array(graph.columnIndices[e...]))
            if let extra {
                attention = try attention.union(CSRGraph(unchecked: n, graph.columnCount, extra.rowPointers, extra.columnIndices),
                                                threads: threads)
            }
            return try SparseAttention.farField(q, k, v, heads: h, graph: attention, members: members, threads: threads)
        }
        var g = graph
        if let extra {
            if g.rowCount == n {
                g = try g.union(extra, threads: threads)
            } else {
                // Head-interleaved: the same extra keys for every head.
                g = try g.union(SparseAttention.interleavedGraph(
                    SparseAttention.appending(extra, to: [[Int32]](repeating: [], count: h), rows: n),
                    rows: n, columns: n, heads: h), threads: threads)
            }
        }
        return try SparseAttention.apply(q, k, v, heads: h, graph: g, threads: threads)
    }

    /// Cross messages (m0 for image 0's points, m1 for image 1's) over the layer's cross graphs; a
    /// direction without a graph stays dense.
    func sparseCrossAttention(_ qk0: Matrix, _ qk1: Matrix, _ v0: Matrix, _ v1: Matrix,
                              graphs g: LightGlueLayerGraphs) throws -> (Matrix, Matrix) {
        let h = configuration.heads
        var g01 = g.cross01, g10 = g.cross10
        if let recipe = g.crossRecipe {
            switch recipe.scores {
            case .logits:
                g01 = try SparseAttention.topKGraph(qk0, qk1, k: recipe.k, threads: threads)
                if configuration.sparsity?.crossTranspose != true {
                    g10 = try SparseAttention.topKGraph(qk1, qk0, k: recipe.k, threads: threads)
                }
            case .headLogits:
                g01 = try SparseAttention.interleavedGraph(
                    SparseAttention.headTopK(qk0, qk1, heads: h, k: Swift.min(recipe.k, qk1.rows), threads: threads),
                    rows: qk0.rows, columns: qk1.rows, heads: h)
                g10 = try SparseAttention.interleavedGraph(
                    SparseAttention.headTopK(qk1, qk0, heads: h, k: Swift.min(recipe.k, qk0.rows), threads: threads),
                    rows: qk1.rows, columns: qk0.rows, heads: h)
            case .firstHead:
                // Head 0's columns are read in place (row stride = the full width), no copy.
                let dh = qk0.columns / h
                g01 = try SparseAttention.topKGraph(qk0, qk1, columns: 0..<dh, k: recipe.k, threads: threads)
                if configuration.sparsity?.crossTranspose != true {
                    g10 = try SparseAttention.topKGraph(qk1, qk0, columns: 0..<dh, k: recipe.k, threads: threads)
                }
            case .descriptors, .groups:
                break // built eagerly from the input descriptors / below
            }
        }
        if let recipe = g.crossRecipe, recipe.scores == .groups, let m0 = g.crossGroups0, let m1 = g.crossGroups1 {
            return (try SparseAttention.topGroupsAttention(qk0, qk1, v1, heads: h, members: m1, k: recipe.k, threads: threads),
                    try SparseAttention.topGroupsAttention(qk1, qk0, v0, heads: h, members: m0, k: recipe.k, threads: threads))
        }
        if configuration.sparsity?.crossTranspose == true, let a = g01 {
            g10 = try a.transposed()
        }
        if let m0 = g.crossGroups0, let m1 = g.crossGroups1, let a = g01, let b = g10 {
            // Near field: the top-k; far field: every group centroid of the other image.
            func far(_ near: CSRGraph, _ members: CSRGraph) throws -> CSRGraph {
                try CSRGraph(unchecked: near.rowCount, near.columnCount + members.rowCount, near.rowPointers, near.columnIndices)
                    .union(SparseAttention.shifted(CSRGraph.complete(rows: near.rowCount, columns: members.rowCount),
                                                   by: near.columnCount), threads: threads)
            }
            return (try SparseAttention.farField(qk0, qk1, v1, heads: h, graph: far(a, m1), members: m1, threads: threads),
                    try SparseAttention.farField(qk1, qk0, v0, heads: h, graph: far(b, m0), members: m0, threads: threads))
        }
        func attend(_ q: Matrix, _ k: Matrix, _ v: Matrix, _ graph: CSRGraph?) throws -> Matrix {
            guard let graph else {
                return try AttentionOperator.apply(queries: q, keys: k, values: v, heads: h, graph: nil, backend: .dense,
                                                   threads: threads).output
            }
            return try SparseAttention.apply(q, k, v, heads: h, graph: graph, threads: threads)
        }
        return (try attend(qk0, qk1, v1, g01), try attend(qk1, qk0, v0, g10))
    }
}
