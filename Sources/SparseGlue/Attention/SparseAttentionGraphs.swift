// Sparse-attention building blocks beyond one shared CSR graph: head-interleaved (per-head)
// graphs, far-field attention to group centroids, and top-k graphs from attention logits.
import Foundation

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
