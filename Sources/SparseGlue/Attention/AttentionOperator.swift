/// How attention over a graph is computed. All three give the same result on the same graph (up
/// to float rounding); they differ in cost.
public enum AttentionBackend: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// BLAS GEMMs over all n × m pairs: the complete graph only. O(n·m·d) work.
    case dense
    /// Dense GEMMs with non-edges set to −∞ before the softmax: any graph, still O(n·m·d) work and
    /// an n × m mask. The baseline the sparse kernel replaces; refuses masks over the budget.
    case maskedDense(memoryBudgetBytes: Int)
    /// CSR kernel with a fused online softmax: O(E·d) work, no n × m buffer.
    case sparse

    /// Masked-dense with a 2 GiB mask budget.
    public static let masked = AttentionBackend.maskedDense(memoryBudgetBytes: 1 << 31)

    public var name: String {
        switch self {
        case .dense: "dense"
        case .maskedDense: "masked"
        case .sparse: "sparse"
        }
    }

    public var description: String { name }

    /// Parses "dense", "masked" or "sparse"; an unknown name fails listing the valid ones.
    public init(name: String) throws {
        switch name {
        case "dense": self = .dense
        case "masked": self = .masked
        case "sparse": self = .sparse
        default: throw SparseGlueError.invalidArgument("unknown attention backend '\(name)'; valid: dense, masked, sparse")
        }
    }
}

/// Multi-head scaled dot-product attention on already projected Q, K, V (heads packed along the
/// features, d = heads · dₕ): `out[i, h] = Σ_j softmax_j(⟨q_ih, k_jh⟩/√dₕ) v_jh` over the edges of
/// row i. A row without edges gives zeros.
public enum AttentionOperator {
    public struct Result: Sendable {
        /// n × d attention output.
        public let output: Matrix
        /// Per-edge softmax weights (`edgeCount × heads`, edge-major, in the graph's CSR order),
        /// when requested from the sparse backend.
        public let edgeWeights: [Float]?
    }

    /// - Parameters:
    ///   - graph: rows = queries (n), columns = keys (m); nil means the complete graph.
    ///   - returnWeights: only the sparse backend reports per-edge weights.
    public static func apply(queries q: Matrix, keys k: Matrix, values v: Matrix, heads: Int,
                             graph: CSRGraph?, backend: AttentionBackend, returnWeights: Bool = false,
                             threads: Int = 0) throws -> Result {
        try require(q.rows >= 1 && k.rows >= 1, "attention needs at least one query and one key")
        try require(heads >= 1, "attention needs at least one head")
        guard q.columns == k.columns, k.columns == v.columns, k.rows == v.rows else {
            throw SparseGlueError.shapeMismatch(
                "attention needs Q (n×d), K and V (m×d); got \(q.rows)×\(q.columns), \(k.rows)×\(k.columns), \(v.rows)×\(v.columns)")
        }
        guard q.columns % heads == 0 else {
            throw SparseGlueError.shapeMismatch("\(heads) heads do not divide the feature dimension \(q.columns)")
        }
        if let graph, graph.rowCount != q.rows || graph.columnCount != k.rows {
            throw SparseGlueError.shapeMismatch(
                "graph is \(graph.rowCount)×\(graph.columnCount) but attention is \(q.rows) queries × \(k.rows) keys")
        }
        try require(!returnWeights || backend == .sparse, "per-edge weights come from the sparse backend only")
        let scale = 1 / Float(q.columns / heads).squareRoot()
        switch backend {
        case .dense:
            if let graph, !graph.isComplete {
                throw SparseGlueError.invalidArgument(
                    "the dense backend computes the complete graph; use .maskedDense or .sparse for a graph with \(graph.edgeCount) of \(q.rows * k.rows) edges")
            }
            return Result(output: try Kernels.attentionDense(q: q, k: k, v: v, heads: heads, scale: scale, threads: threads),
                          edgeWeights: nil)
        case .maskedDense(let budget):
            let mask: [UInt8]
            if let graph {
                mask = try graph.denseMask(budgetBytes: budget)
            } else {
                let bytes = q.rows * k.rows
                guard bytes <= budget else {
                    throw SparseGlueError.memoryBudgetExceeded(requiredBytes: bytes, budgetBytes: budget,
                                                               what: "a \(q.rows)×\(k.rows) attention mask")
                }
                mask = [UInt8](repeating: 1, count: bytes)
            }
            return Result(output: try Kernels.attentionMasked(q: q, k: k, v: v, heads: heads, scale: scale, mask: mask,
                                                              threads: threads), edgeWeights: nil)
        case .sparse:
            let g = try graph ?? CSRGraph.complete(rows: q.rows, columns: k.rows)
            let (out, weights) = try Kernels.attentionSparse(q: q, k: k, v: v, heads: heads, scale: scale, graph: g,
                                                             returnWeights: returnWeights, threads: threads)
            return Result(output: out, edgeWeights: weights)
        }
    }
}
