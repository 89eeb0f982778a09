// The graphs of one Sparse LightGlue layer: positional self graphs (kNN, nested / disjoint pairs
// over the heads, hubs, far fields) and the recipes of the cross graphs, built from the kept
// points before each layer.
import Foundation

/// A graph with `heads·n` rows and `heads·m` columns is a per-head graph in head-interleaved
/// numbering: node i·heads + h is head h of point i. Q, K and V (n × heads·dₕ, row-major) are the
/// same memory as (n·heads) × dₕ matrices in that numbering, so one single-head sparse attention
/// call over such a graph runs every head on its own edges without copying anything.
///
/// A self graph with n + C rows and columns (C < n) is a far-field graph: rows 0..<n are the
/// points, attending to points (columns < n) and group centroids (column n + c); rows n + c list
/// group c's members, from which the centroids are formed.
struct LightGlueLayerGraphs {
    var self0: CSRGraph?
    var self1: CSRGraph?
    /// Rows = points of image 0, columns = points of image 1 (and the reverse).
    var cross01: CSRGraph?
    var cross10: CSRGraph?
    /// Cross graphs ranked by the attention logits: found inside the cross block, from its qk0 / qk1.
    var crossRecipe: (k: Int, scores: LightGlueSparsity.CrossScores)?
    /// Spatial groups of each image's points (rows = groups, columns = points), for a cross far field.
    var crossGroups0: CSRGraph?
    var crossGroups1: CSRGraph?

    var hasCross: Bool { cross01 != nil || cross10 != nil || crossRecipe != nil }
    var isDense: Bool { self0 == nil && self1 == nil && !hasCross }
}

extension LightGlueSparsity {
    /// Graphs of layer `layer` from the kept points' normalised positions and input descriptors;
    /// nil when the layer is dense. k is clamped to the number of points available.
    func graphs(layer: Int, positions0: Matrix, positions1: Matrix, descriptors0: Matrix, descriptors1: Matrix,
                threads: Int, heads: Int) throws -> LightGlueLayerGraphs? {
        guard layer >= denseLayers else { return nil }
        var g = LightGlueLayerGraphs()
        let selfSparse = layer >= Swift.max(denseLayers, selfDenseLayers ?? 0)
        if !selfSparse {
            // dense self-attention in this layer
        } else if let size = selfGroupSize {
            func farSelf(_ p: Matrix) throws -> CSRGraph? {
                guard p.rows >= 2 * size else { return nil } // one group: dense
                let near: CSRGraph? = try selfK.map { k in
                    try KNNGraph.build(points: p, k: Swift.min(k, p.rows - 1), threads: threads)
                }
                return try SparseAttention.farFieldSelfGraph(members: SparseAttention.groups(p, size: size), near: near,
                                                             threads: threads)
            }
            g.self0 = try farSelf(positions0)
            g.self1 = try farSelf(positions1)
        } else if let k = selfK {
            g.self0 = try selfGraph(positions0, k: k, heads: heads, threads: threads)
            g.self1 = try selfGraph(positions1, k: k, heads: heads, threads: threads)
        }
        if let size = crossGroupSize, crossK != nil {
            g.crossGroups0 = try SparseAttention.groups(positions0, size: size)
            g.crossGroups1 = try SparseAttention.groups(positions1, size: size)
        }
        if let k = crossK {
            switch crossScores {
            case .descriptors:
                g.cross01 = try KNNGraph.cross(from: descriptors0, to: descriptors1, k: Swift.min(k, descriptors1.rows),
                                               threads: threads)
                g.cross10 = crossTranspose ? try g.cross01!.transposed()
                    : try KNNGraph.cross(from: descriptors1, to: descriptors0, k: Swift.min(k, descriptors0.rows),
                                         threads: threads)
            case .logits, .headLogits, .groups, .firstHead:
                g.crossRecipe = (k, crossScores)
            }
        }
        return g.isDense ? nil : g
    }

    /// The self graph of one image (nil = dense, when k covers every point).
    private func selfGraph(_ p: Matrix, k: Int, heads: Int, threads: Int) throws -> CSRGraph? {
        let n = p.rows
        if selfScores == .headLogits {
            // Resolved inside the self block from q and k; an edgeless placeholder routes it there.
            return k >= n ? nil : CSRGraph(unchecked: n, n, [Int64](repeating: 0, count: n + 1), [])
        }
        // kNN(k) + self covers every point: the complete graph for every head.
        if k >= n - 1 { return nil }
        let kk = Swift.min(selfOuterK ?? k, n - 1)
        let lists = try KNNGraph.neighbors(of: p, among: p, k: kk, excludingSelf: true, threads: threads)
        var g: CSRGraph
        if selfOuterK != nil {
            // Heads of the first half: kNN(k1) + self; second half: kNN(k2) (+ self, nested) or
            // kNN(k2) \ kNN(k1) (disjoint).
            let k1 = k
            var inner = [Int32](repeating: -1, count: n * (k1 + 1))
            var outerRows = [Int32](repeating: -1, count: n * (kk + 1))
            inner.withUnsafeMutableBufferPointer { a in
                outerRows.withUnsafeMutableBufferPointer { b in
                    lists.indices.withUnsafeBufferPointer { l in
                        for i in 0..<n {
                            a[i * (k1 + 1)] = Int32(i)
                            for e in 0..<k1 { a[i * (k1 + 1) + 1 + e] = l[i * kk + e] }
                            if selfPair == .nested {
                                b[i * (kk + 1)] = Int32(i)
                                for e in 0..<kk { b[i * (kk + 1) + 1 + e] = l[i * kk + e] }
                            } else {
                                for e in k1..<kk { b[i * (kk + 1) + 1 + e] = l[i * kk + e] }
                            }
                        }
                    }
                }
            }
            let perHead = (0..<heads).map { $0 < heads / 2 ? inner : outerRows }
            g = try SparseAttention.interleavedGraph(perHead, rows: n, columns: n, heads: heads)
        } else {
            g = try lists.graph(addingSelfLoops: true)
        }
        return g
    }
}
