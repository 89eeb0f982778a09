// Sparse LightGlue (training-free): the pretrained weights with attention restricted to sparse
// graphs. Self-attention on each keypoint's k nearest keypoints in its image (optionally a
// nested / disjoint pair of neighbourhoods split over the heads, plus global hub keypoints),
// cross-attention on each point's k most similar points of the other image, ranked by the layer's
// own attention logits; the first layers kept dense. See docs/sparse-lightglue.md.
import Foundation

/// Which graphs LightGlue's attention runs on; nil fields mean the complete graph (dense).
public struct LightGlueSparsity: Codable, Sendable, Equatable {
    /// How a cross-attention row picks its k keys in the other image.
    public enum CrossScores: String, Codable, Sendable, CaseIterable {
        /// The layer's attention logits summed over heads, ⟨qk0_i, qk1_j⟩ on the projected 256-d
        /// features: one graph shared by all heads (one GEMM of the size of one head's sim × heads).
        case logits
        /// Each head's own logits ⟨qk0_i,h, qk1_j,h⟩: one graph per head, the top-k of exactly the
        /// scores its softmax normalises (the faithful proxy, same search cost as `logits`).
        case headLogits
        /// Cosine of the layer's input descriptors (no projection): the cheapest, least faithful.
        case descriptors
        /// Spatial groups of the other image (`crossGroupSize`) ranked by the logit of their mean
        /// key: exact attention to the members of the best crossK / groupSize groups, centroids for
        /// the rest. No n×m product at all.
        case groups
        /// The first head's logits only (a 64-d search, a quarter of `logits`' cost).
        case firstHead
    }

    /// How a self-attention row picks its keys.
    public enum SelfScores: String, Codable, Sendable, CaseIterable {
        /// Positional k-NN in the image (the keypoint layout; cheap 2-D grid search).
        case positions
        /// Each head's own logits ⟨q_i,h, k_j,h⟩ (rotary-encoded): a per-head top-k, as costly to
        /// find as one dense similarity per head — a reference for how much a positional graph loses.
        case headLogits
    }

    /// Layers 0..<denseLayers run the published dense attention.
    public var denseLayers: Int
    /// Self-attention stays dense in layers 0..<max(denseLayers, selfDenseLayers) (nil: denseLayers):
    /// self-attention tolerates sparsity in fewer layers than cross-attention does.
    public var selfDenseLayers: Int?
    /// Self-attention on each keypoint's `selfK` nearest keypoints (positions) plus itself. With
    /// `selfOuterK`, the inner neighbourhood of a nested / disjoint pair (heads of the first half).
    public var selfK: Int?
    /// With `selfK`: heads h ≥ heads/2 attend over kNN(selfOuterK) (`selfPair == .nested`) or
    /// kNN(selfOuterK) \ kNN(selfK) (`.disjoint`), heads h < heads/2 over kNN(selfK) + self.
    public var selfOuterK: Int?
    public var selfPair: GraphPair.Kind
    /// Self-attention rows also attend to their `selfLogitK` keys of largest logit summed over heads
    /// ⟨q_i, k_j⟩ (found inside the self block: the peaks of the attention, wherever they are).
    public var selfLogitK: Int?
    /// Keypoints every self-attention row also attends to: the `selfHubs` keys most attended on
    /// average, largest ⟨q̄, k_j⟩ with q̄ the mean query (a GEMV: global context next to the local
    /// neighbourhood; found inside the self block). 0 = none. Formerly: the best-scored points.
    /// (global context next to the local neighbourhood). 0 = none.
    public var selfHubs: Int
    public var selfScores: SelfScores
    /// Far-field self-attention: the kept points are split into spatially compact groups of about
    /// this many points (equal partition by median bisection); a point attends exactly to its own
    /// group (∪ kNN(selfK) when set) and to the centroid (mean key, mean value, log-size bias) of
    /// every other group — the whole image at O(n·(s + n/s)) cost. nil = no far field.
    public var selfGroupSize: Int?
    /// Far-field cross-attention: besides its top-k, a point attends to the centroids of the other
    /// image's spatial groups of about this many points. nil = no far field.
    public var crossGroupSize: Int?
    /// With a cross far field: search the top-k of image 0's rows only and let image 1's points
    /// attend to the image-0 points that picked them (the transposed graph; one search, not two).
    public var crossTranspose: Bool
    /// Cross-attention on each point's `crossK` most similar points of the other image.
    public var crossK: Int?
    public var crossScores: CrossScores

    public init(denseLayers: Int = 0, selfDenseLayers: Int? = nil, selfK: Int? = nil, selfOuterK: Int? = nil, selfPair: GraphPair.Kind = .nested,
                selfHubs: Int = 0, selfScores: SelfScores = .positions, selfGroupSize: Int? = nil, selfLogitK: Int? = nil,
                crossK: Int? = nil, crossScores: CrossScores = .logits, crossGroupSize: Int? = nil,
                crossTranspose: Bool = false) {
        self.denseLayers = denseLayers
        self.selfDenseLayers = selfDenseLayers
        self.selfK = selfK
        self.selfOuterK = selfOuterK
        self.selfPair = selfPair
        self.selfHubs = selfHubs
        self.selfScores = selfScores
        self.selfGroupSize = selfGroupSize
        self.selfLogitK = selfLogitK
        self.crossK = crossK
        self.crossScores = crossScores
        self.crossGroupSize = crossGroupSize
        self.crossTranspose = crossTranspose
    }

    private enum CodingKeys: String, CodingKey {
        case denseLayers, selfK, selfOuterK, selfPair, selfHubs, selfScores, selfGroupSize, crossK, crossScores
        case crossGroupSize, crossTranspose, selfLogitK, selfDenseLayers
    }

    /// Fields added after the first version default when absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(denseLayers: try c.decodeIfPresent(Int.self, forKey: .denseLayers) ?? 0,
                  selfDenseLayers: try c.decodeIfPresent(Int.self, forKey: .selfDenseLayers),
                  selfK: try c.decodeIfPresent(Int.self, forKey: .selfK),
                  selfOuterK: try c.decodeIfPresent(Int.self, forKey: .selfOuterK),
                  selfPair: try c.decodeIfPresent(GraphPair.Kind.self, forKey: .selfPair) ?? .nested,
                  selfHubs: try c.decodeIfPresent(Int.self, forKey: .selfHubs) ?? 0,
                  selfScores: try c.decodeIfPresent(SelfScores.self, forKey: .selfScores) ?? .positions,
                  selfGroupSize: try c.decodeIfPresent(Int.self, forKey: .selfGroupSize),
                  selfLogitK: try c.decodeIfPresent(Int.self, forKey: .selfLogitK),
                  crossK: try c.decodeIfPresent(Int.self, forKey: .crossK),
                  crossScores: try c.decodeIfPresent(CrossScores.self, forKey: .crossScores) ?? .logits,
                  crossGroupSize: try c.decodeIfPresent(Int.self, forKey: .crossGroupSize),
                  crossTranspose: try c.decodeIfPresent(Bool.self, forKey: .crossTranspose) ?? false)
    }

    func validate(layers: Int) throws {
        try require(denseLayers >= 0 && denseLayers <= layers, "denseLayers must be in 0...\(layers), got \(denseLayers)")
        if let l = selfDenseLayers {
            try require(l >= 0 && l <= layers, "selfDenseLayers must be in 0...\(layers), got \(l)")
        }
        if let k = selfK { try require(k >= 1, "selfK must be ≥ 1, got \(k)") }
        if let k = crossK { try require(k >= 1, "crossK must be ≥ 1, got \(k)") }
        if let k2 = selfOuterK {
            guard let k1 = selfK else { throw SparseGlueError.invalidArgument("selfOuterK needs selfK (the inner neighbourhood)") }
            try require(k2 > k1, "selfOuterK must exceed selfK, got \(k2) ≤ \(k1)")
            try require(selfScores == .positions, "a nested / disjoint self pair is positional (selfScores = positions)")
        }
        try require(selfHubs >= 0, "selfHubs must be ≥ 0, got \(selfHubs)")
        try require(selfHubs == 0 || selfK != nil || selfGroupSize != nil, "selfHubs needs a sparse self graph (selfK or selfGroupSize)")
        if let k = selfLogitK {
            try require(k >= 1, "selfLogitK must be ≥ 1, got \(k)")
            try require(selfK != nil || selfGroupSize != nil, "selfLogitK adds to a sparse self graph (selfK or selfGroupSize)")
        }
        if let g = selfGroupSize {
            try require(g >= 2, "selfGroupSize must be ≥ 2, got \(g)")
            try require(selfOuterK == nil && selfScores == .positions,
                        "a far-field self graph combines only with positional kNN (selfK)")
        }
        if let g = crossGroupSize {
            try require(g >= 2, "crossGroupSize must be ≥ 2, got \(g)")
            try require(crossK != nil && crossScores != .headLogits, "a cross far field needs a shared cross top-k (crossK)")
        }
        try require(crossScores != .groups || crossGroupSize != nil, "cross top groups need crossGroupSize")
        try require(!crossTranspose || (crossGroupSize != nil && crossScores != .groups),
                    "a transposed cross graph needs a cross far field (crossGroupSize) and a top-k search")
    }
}

/// The graphs of one LightGlue layer over the points still kept; nil = complete graph.
///
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

/// Graph helpers of Sparse LightGlue: per-head (head-interleaved) graphs and their attention.
enum SparseAttention {
    /// Attention of q (n × d) over k, v (m × d) on `graph`: a shared graph (n × m, all heads) or a
    /// head-interleaved one ((n·heads) × (m·heads), see `LightGlueLayerGraphs`).
    static func apply(_ q: Matrix, _ k: Matrix, _ v: Matrix, heads: Int, graph: CSRGraph, threads: Int) throws -> Matrix {
        if graph.rowCount == q.rows && graph.columnCount == k.rows {
            return try AttentionOperator.apply(queries: q, keys: k, values: v, heads: heads, graph: graph,
                                               backend: .sparse, threads: threads).output
        }
        guard graph.rowCount == q.rows * heads, graph.columnCount == k.rows * heads else {
            throw SparseGlueError.shapeMismatch(
                "graph is \(graph.rowCount)×\(graph.columnCount): neither \(q.rows)×\(k.rows) nor per-head \(q.rows * heads)×\(k.rows * heads)")
        }
        let dh = q.columns / heads
        func split(_ x: Matrix) -> Matrix { Matrix(uncheckedRows: x.rows * heads, columns: dh, values: x.values) }
        let out = try AttentionOperator.apply(queries: split(q), keys: split(k), values: split(v), heads: 1,
                                              graph: graph, backend: .sparse, threads: threads).output
        return Matrix(uncheckedRows: q.rows, columns: q.columns, values: out.values)
    }

    /// `g` (n × m) as an n × (offset + m) graph whose columns are shifted by `offset`.
    static func shifted(_ g: CSRGraph, by offset: Int) throws -> CSRGraph {
        let o = Int32(offset)
        var cols = g.columnIndices
        cols.withUnsafeMutableBufferPointer { c in for e in 0..<c.count { c[e] += o } }
        return CSRGraph(unchecked: g.rowCount, g.columnCount + offset, g.rowPointers, cols)
    }

    /// Attention with a far field: `graph` (n × (m + C)) has point columns j < m (exact keys) and
    /// centroid columns m + c, the mean key and value of group c (`members`, C × m) with the log of
    /// the group size added to its logit, so a centroid stands for its whole group:
    /// Σ_{j∈c} exp(s·q·k_j) v_j ≈ |c| · exp(s·q·k̄_c) v̄_c. The bias rides in one extra feature per
    /// head (q: 1, point keys: 0, centroids: log|c|·√(dₕ+1)), with q rescaled by √((dₕ+1)/dₕ) so
    /// the kernel's 1/√(dₕ+1) scale gives the model's 1/√dₕ.
    static func farField(_ q: Matrix, _ k: Matrix, _ v: Matrix, heads: Int, graph: CSRGraph, members: CSRGraph,
                         threads: Int) throws -> Matrix {
        let n = q.rows, m = k.rows, c = members.rowCount, d = q.columns, dh = d / heads, dp = dh + 1
        guard graph.rowCount == n, graph.columnCount == m + c, members.columnCount == m else {
            throw SparseGlueError.shapeMismatch("far-field graph \(graph.rowCount)×\(graph.columnCount) with \(c) groups of \(members.columnCount) points does not fit \(n) queries over \(m) keys")
        }
        // Group means as one GEMM: P (C × m) holds 1/|c| on group c's members.
        var p = Matrix.zeros(c, m)
        var bias = [Float](repeating: 0, count: c)
        p.values.withUnsafeMutableBufferPointer { pp in
            for g in 0..<c {
                let deg = members.degree(of: g)
                guard deg > 0 else { continue }
                bias[g] = Foundation.log(Float(deg)) * Float(dp).squareRoot()
                for j in members.neighbors(of: g) { pp[g * m + Int(j)] = 1 / Float(deg) }
            }
        }
        let kbar = try p.matmul(k, threads: threads), vbar = try p.matmul(v, threads: threads)
        let qs = (Float(dp) / Float(dh)).squareRoot()
        /// rows × (heads·dp): each head's dh values (times `scale`) then `extra(row)`.
        func augment(_ parts: [(Matrix, Float, (Int) -> Float)]) -> Matrix {
            let rows = parts.reduce(0) { $0 + $1.0.rows }
            var out = [Float](repeating: 0, count: rows * heads * dp)
            out.withUnsafeMutableBufferPointer { o in
                var r0 = 0
                for (x, scale, extra) in parts {
                    x.values.withUnsafeBufferPointer { src in
                        for r in 0..<x.rows {
                            let e = extra(r)
                            for h in 0..<heads {
                                let dst = o.baseAddress! + (r0 + r) * heads * dp + h * dp
                                let s = src.baseAddress! + r * d + h * dh
                                if scale == 1 { dst.update(from: s, count: dh) } else { for t in 0..<dh { dst[t] = s[t] * scale } }
                                dst[dh] = e
                            }
                        }
                    }
                    r0 += x.rows
                }
            }
            return Matrix(uncheckedRows: rows, columns: heads * dp, values: out)
        }
        let qa = augment([(q, qs, { _ in 1 })])
        let ka = augment([(k, 1, { _ in 0 }), (kbar, 1, { bias[$0] })])
        let va = augment([(v, 1, { _ in 0 }), (vbar, 1, { _ in 0 })])
        let oa = try AttentionOperator.apply(queries: qa, keys: ka, values: va, heads: heads, graph: graph,
                                             backend: .sparse, threads: threads).output
        var out = [Float](repeating: 0, count: n * d)
        out.withUnsafeMutableBufferPointer { o in
            oa.values.withUnsafeBufferPointer { a in
                for r in 0..<n {
                    for h in 0..<heads {
                        (o.baseAddress! + r * d + h * dh).update(from: a.baseAddress! + r * heads * dp + h * dp, count: dh)
                    }
                }
            }
        }
        return Matrix(uncheckedRows: n, columns: d, values: out)
    }

    /// Mean rows of each group (`members`, C × m) of x (m × d), as one GEMM.
    static func centroids(_ x: Matrix, members: CSRGraph, threads: Int) throws -> Matrix {
        let c = members.rowCount, m = members.columnCount
        var p = Matrix.zeros(c, m)
        p.values.withUnsafeMutableBufferPointer { pp in
            for g in 0..<c {
                let deg = members.degree(of: g)
                for j in members.neighbors(of: g) { pp[g * m + Int(j)] = 1 / Float(deg) }
            }
        }
        return try p.matmul(x, threads: threads)
    }

    /// Cross-attention of q over the other image's keys through its groups: each query attends
    /// exactly to the members of its ⌈k / group size⌉ groups of largest ⟨q, k̄_c⟩ and to the
    /// centroids of all other groups.
    static func topGroupsAttention(_ q: Matrix, _ k: Matrix, _ v: Matrix, heads: Int, members: CSRGraph, k kk: Int,
                                   threads: Int) throws -> Matrix {
        let n = q.rows, m = k.rows, c = members.rowCount
        let size = Swift.max(1, m / Swift.max(c, 1))
        let top = Swift.min(c, Swift.max(1, (kk + size - 1) / size))
        let kbar = try centroids(k, members: members, threads: threads)
        let chosen = try KNNGraph.neighbors(of: q, among: kbar, k: top, metric: .dot, threads: threads)
        let width = top * ((0..<c).map { members.degree(of: $0) }.max() ?? 0)
        var table = [Int32](repeating: -1, count: n * width)
        table.withUnsafeMutableBufferPointer { t in
            chosen.indices.withUnsafeBufferPointer { ch in
                for i in 0..<n {
                    var e = i * width
                    for r in 0..<top {
                        for j in members.neighbors(of: Int(ch[i * top + r])) { t[e] = j; e += 1 }
                    }
                }
            }
        }
        let near = try CSRGraph(columnCount: m, rowCount: n, k: width, flatNeighbors: table)
        let far = try CSRGraph.complete(rows: n, columns: c).subtracting(chosen.graph(), threads: threads)
        let graph = try CSRGraph(unchecked: n, m + c, near.rowPointers, near.columnIndices)
            .union(shifted(far, by: m), threads: threads)
        return try farField(q, k, v, heads: heads, graph: graph, members: members, threads: threads)
    }

    /// Spatially compact groups of about `size` points (equal partition by median bisection):
    /// C × n, rows = groups, columns = members.
    static func groups(_ positions: Matrix, size: Int) throws -> CSRGraph {
        let n = positions.rows, count = Swift.max(1, (n + size / 2) / size)
        let g = try Kernels.partitionEqual(positions, groups: count)
        return try CSRGraph(unchecked: n, count, (0..<n + 1).map { Int64($0) }, g).transposed()
    }

    /// Far-field self graph (see `LightGlueLayerGraphs`): each point → its own group's members
    /// (∪ `near`) and every other group's centroid; then the member rows.
    static func farFieldSelfGraph(members: CSRGraph, near: CSRGraph?, threads: Int) throws -> CSRGraph {
        let c = members.rowCount, n = members.columnCount
        let own = try members.transposed() // n × C, one group per point
        let width = (0..<c).map { members.degree(of: $0) }.max() ?? 0
        var table = [Int32](repeating: -1, count: n * width)
        table.withUnsafeMutableBufferPointer { t in
            for g in 0..<c {
                let ms = members.neighbors(of: g)
                for i in ms {
                    var e = Int(i) * width
                    for j in ms { t[e] = j; e += 1 }
                }
            }
        }
        var points = try CSRGraph(columnCount: n, rowCount: n, k: width, flatNeighbors: table)
        if let near { points = try points.union(near, threads: threads) }
        let far = try CSRGraph.complete(rows: n, columns: c).subtracting(own, threads: threads)
        let rows = try CSRGraph(unchecked: n, n + c, points.rowPointers, points.columnIndices)
            .union(shifted(far, by: n), threads: threads)
        // Append the member rows.
        let e = rows.rowPointers[n]
        return CSRGraph(unchecked: n + c, n + c, rows.rowPointers + members.rowPointers.dropFirst().map { $0 + e },
                        rows.columnIndices + members.columnIndices)
    }

    /// Per head h: the `k` keys of largest ⟨q_i,h, k_j,h⟩ for every query row (n × k indices each),
    /// by the fast row top-k on head h's columns in place (float GEMM scores, see `topKGraph`).
    static func headTopK(_ q: Matrix, _ keys: Matrix, heads: Int, k: Int, threads: Int) throws -> [[Int32]] {
        let dh = q.columns / heads
        return try (0..<heads).map { h in
            try Kernels.topKDotRows(q, keys, columns: h * dh..<(h + 1) * dh, k: Swift.min(k, keys.rows),
                                    threads: threads).indices
        }
    }

    /// The graph from each row of `q` to its `k` (clamped to the key count) keys of largest
    /// ⟨q_i, k_j⟩ over `columns` (all by default), found by the fast row top-k (sg_topk_dot_rows:
    /// one GEMM + O(m) selection per row). Scores are float GEMM values, so keys whose logits tie
    /// within float rounding may be picked differently from an exact search; the graph otherwise
    /// equals the exact top-k graph.
    static func topKGraph(_ q: Matrix, _ keys: Matrix, columns: Range<Int>? = nil, k: Int, threads: Int) throws -> CSRGraph {
        let kk = Swift.min(k, keys.rows)
        let top = try Kernels.topKDotRows(q, keys, columns: columns, k: kk, threads: threads)
        return try CSRGraph(columnCount: keys.rows, rowCount: q.rows, k: kk, flatNeighbors: top.indices)
    }

    /// The head-interleaved graph whose head-h rows attend to `lists[h]` (n × w each, w = count / n;
    /// negative entries skipped): node i·heads + h → j·heads + h.
    static func interleavedGraph(_ lists: [[Int32]], rows n: Int, columns m: Int, heads: Int) throws -> CSRGraph {
        precondition(lists.count == heads)
        let w = lists.map { $0.count / n }.max() ?? 0
        var table = [Int32](repeating: -1, count: n * heads * w)
        let h32 = Int32(heads)
        table.withUnsafeMutableBufferPointer { t in
            for h in 0..<heads {
                let wh = lists[h].count / n, hh = Int32(h)
                lists[h].withUnsafeBufferPointer { l in
                    for i in 0..<n {
                        let dst = (i * heads + h) * w, src = i * wh
                        for e in 0..<wh {
                            let j = l[src + e]
                            t[dst + e] = j < 0 ? -1 : j * h32 + hh
                        }
                    }
                }
            }
        }
        return try CSRGraph(columnCount: m * heads, rowCount: n * heads, k: w, flatNeighbors: table)
    }

    /// Every row attends to the same `columns` keys `keys` (shared n × m graph).
    static func broadcast(_ keys: [Int32], rows n: Int, columns m: Int) throws -> CSRGraph {
        let sorted = Array(Set(keys)).sorted()
        var cols = [Int32]()
        cols.reserveCapacity(n * sorted.count)
        for _ in 0..<n { cols.append(contentsOf: sorted) }
        return CSRGraph(unchecked: n, m, (0...n).map { Int64($0 * sorted.count) }, cols)
    }

    /// Each per-head list (n × w) widened by the rows of `extra` (n × m), padded with −1.
    static func appending(_ extra: CSRGraph, to lists: [[Int32]], rows n: Int) throws -> [[Int32]] {
        let we = (0..<n).map { extra.degree(of: $0) }.max() ?? 0
        return lists.map { l in
            let w = l.count / n, ww = w + we
            var out = [Int32](repeating: -1, count: n * ww)
            out.withUnsafeMutableBufferPointer { o in
                l.withUnsafeBufferPointer { src in
                    for i in 0..<n {
                        if w > 0 { (o.baseAddress! + i * ww).update(from: src.baseAddress! + i * w, count: w) }
                        var e = i * ww + w
                        for j in extra.neighbors(of: i) { o[e] = j; e += 1 }
                    }
                }
            }
            return out
        }
    }
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

extension LightGlueSparsity {
    /// The recommended training-free variant, "L3-c32ot-x32" (chosen on the fixture pairs; see
    /// docs/sparse-lightglue.md): layers 0–2 dense; from layer 3 self-attention stays dense and
    /// cross-attention runs on each image-0 point's top-32 by the first head's logits (the
    /// transposed graph for image 1) plus the centroids of the other image's spatial groups of 32
    /// (far field). Match F1 ≥ 0.95 against dense on every fixture pair and the 2048-point mosaic,
    /// adaptivity on and off (≥ 0.92 with 512 keypoints).
    /// Self-attention is left dense: no training-free self graph kept F1 ≥ 0.9 on sacre_coeur.
    public static let recommended = LightGlueSparsity(denseLayers: 3, crossK: 32, crossScores: .firstHead,
                                                      crossGroupSize: 32, crossTranspose: true)
}

extension LightGlueSparsity {
    /// "first 1 layer dense, self kNN 32, cross top-64 (logits)".
    public var summary: String {
        var parts = [String]()
        if denseLayers > 0 { parts.append("first \(denseLayers) layer\(denseLayers == 1 ? "" : "s") dense") }
        if let l = selfDenseLayers, l > denseLayers { parts.append("self dense in layers 0–\(l - 1)") }
        if let g = selfGroupSize {
            parts.append("self own group + far-field centroids (groups of \(g))" + (selfK.map { " ∪ kNN \($0)" } ?? "")
                         + (selfHubs > 0 ? " + \(selfHubs) hubs" : "") + (selfLogitK.map { " + top-\($0) logits" } ?? ""))
        } else if let k = selfK {
            var s = selfScores == .headLogits ? "self top-\(k) (head logits)" : "self kNN \(k)"
            if let k2 = selfOuterK { s = "self kNN \(k)/\(k2) \(selfPair.rawValue)" }
            if selfHubs > 0 { s += " + \(selfHubs) hubs" }
            if let l = selfLogitK { s += " + top-\(l) logits" }
            parts.append(s)
        } else {
            parts.append("self dense")
        }
        parts.append(crossK.map { "cross top-\($0) (\(crossScores.rawValue)\(crossTranspose ? ", reverse = transpose" : ""))" } ?? "cross dense")
        if let g = crossGroupSize { parts.append("cross far field (groups of \(g))") }
        return parts.joined(separator: ", ")
    }

    /// A compact name: "dense", or tokens joined by "-": `L<n>` dense layers, `s<k>` self kNN,
    /// `s<k1>/<k2>n|d` nested / disjoint pair over the heads, `s<k>q` self top-k by head logits,
    /// `h<m>` hubs, `c<k>` cross top-k by logits, `c<k>h` per head, `c<k>d` by descriptor cosine.
    public var name: String {
        if denseLayers == 0 && selfK == nil && crossK == nil && selfGroupSize == nil { return "dense" }
        var t = [String]()
        if denseLayers > 0 { t.append("L\(denseLayers)") }
        if let l = selfDenseLayers { t.append("Ls\(l)") }
        if let k = selfK {
            if let k2 = selfOuterK { t.append("s\(k)/\(k2)\(selfPair == .nested ? "n" : "d")") }
            else { t.append("s\(k)\(selfScores == .headLogits ? "q" : "")") }
        }
        if selfHubs > 0 { t.append("h\(selfHubs)") }
        if let g = selfGroupSize { t.append("g\(g)") }
        if let l = selfLogitK { t.append("l\(l)") }
        if let k = crossK {
            t.append("c\(k)" + (crossScores == .headLogits ? "h" : crossScores == .descriptors ? "d" : crossScores == .groups ? "g" : crossScores == .firstHead ? "o" : "")
                     + (crossTranspose ? "t" : ""))
        }
        if let g = crossGroupSize { t.append("x\(g)") }
        return t.joined(separator: "-")
    }

    /// Parses `name` (see there); throws `.invalidArgument` on a malformed name.
    public init(name: String) throws {
        self.init()
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed == "dense" { return }
        func int(_ s: Substring, _ token: Substring) throws -> Int {
            guard let v = Int(s) else { throw SparseGlueError.invalidArgument("bad sparsity token '\(token)' in '\(name)'") }
            return v
        }
        for token in trimmed.split(separator: "-") {
            guard let head = token.first else { continue }
            var body = token.dropFirst()
            switch head {
            case "L":
                if body.first == "s" { selfDenseLayers = try int(body.dropFirst(), token) } else { denseLayers = try int(body, token) }
            case "h": selfHubs = try int(body, token)
            case "g": selfGroupSize = try int(body, token)
            case "l": selfLogitK = try int(body, token)
            case "x": crossGroupSize = try int(body, token)
            case "s":
                if body.last == "q" { selfScores = .headLogits; body = body.dropLast() }
                if let slash = body.firstIndex(of: "/") {
                    guard let kind = body.last, kind == "n" || kind == "d" else {
                        throw SparseGlueError.invalidArgument("a self pair '\(token)' ends in n (nested) or d (disjoint)")
                    }
                    selfPair = kind == "n" ? .nested : .disjoint
                    selfK = try int(body[..<slash], token)
                    selfOuterK = try int(body[body.index(after: slash)..<body.index(before: body.endIndex)], token)
                } else {
                    selfK = try int(body, token)
                }
            case "c":
                if body.last == "t" { crossTranspose = true; body = body.dropLast() }
                switch body.last {
                case "g": crossScores = .groups; body = body.dropLast()
                case "o": crossScores = .firstHead; body = body.dropLast()
                case "h": crossScores = .headLogits; body = body.dropLast()
                case "d": crossScores = .descriptors; body = body.dropLast()
                default: crossScores = .logits
                }
                crossK = try int(body, token)
            default:
                throw SparseGlueError.invalidArgument("unknown sparsity token '\(token)' in '\(name)' (L, s, h, c)")
            }
        }
    }
}

/// Agreement of two `matches0` vectors (−1 = unmatched): a match counts when both give the same partner.
public struct MatchComparison: Sendable, Equatable {
    public let common: Int
    public let referenceCount: Int
    public let candidateCount: Int

    public init(reference: [Int], candidate: [Int]) {
        precondition(reference.count == candidate.count, "matches0 lengths differ")
        var common = 0, r = 0, c = 0
        for i in reference.indices {
            if reference[i] >= 0 { r += 1 }
            if candidate[i] >= 0 { c += 1 }
            if reference[i] >= 0 && reference[i] == candidate[i] { common += 1 }
        }
        self.common = common
        referenceCount = r
        candidateCount = c
    }

    /// Fraction of the candidate's matches the reference has (1 when the candidate has none).
    public var precision: Double { candidateCount == 0 ? 1 : Double(common) / Double(candidateCount) }
    /// Fraction of the reference's matches the candidate finds (1 when the reference has none).
    public var recall: Double { referenceCount == 0 ? 1 : Double(common) / Double(referenceCount) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
}
