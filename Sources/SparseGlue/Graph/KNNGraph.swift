/// How "near" is measured when choosing neighbours.
public enum NeighborMetric: String, Sendable, CaseIterable, Codable {
    /// Squared Euclidean distance, smaller is nearer (positions, or descriptors).
    case euclidean
    /// Inner product, larger is nearer (descriptor similarity as attention scores see it).
    case dot
    /// Cosine similarity, larger is nearer; 0 against a zero vector.
    case cosine
}

/// The k best references of every query, best first, ties broken by the lower index.
public struct NeighborLists: Sendable, Equatable {
    public let queryCount: Int
    public let referenceCount: Int
    public let k: Int
    public let metric: NeighborMetric
    /// `queryCount × k`, row-major: the neighbours of query `i` are `indices[i*k ..< i*k+k]`.
    public let indices: [Int32]
    /// Squared distances (`.euclidean`, ascending) or similarities (descending), like `indices`.
    public let scores: [Float]

    public func neighbors(of query: Int) -> ArraySlice<Int32> { indices[(query * k)..<((query + 1) * k)] }

    /// The first `k1` neighbours of every query: exactly the k1-NN lists, because the lists are
    /// sorted with a deterministic tie rule. This is how nested graphs share one search.
    public func prefix(_ k1: Int) throws -> NeighborLists {
        try require(k1 >= 1 && k1 <= k, "prefix length \(k1) must be in 1...\(k)")
        var idx = [Int32](), sc = [Float]()
        idx.reserveCapacity(queryCount * k1)
        sc.reserveCapacity(queryCount * k1)
        for i in 0..<queryCount {
            idx.append(contentsOf: indices[(i * k)..<(i * k + k1)])
            sc.append(contentsOf: scores[(i * k)..<(i * k + k1)])
        }
        return NeighborLists(queryCount: queryCount, referenceCount: referenceCount, k: k1, metric: metric,
                             indices: idx, scores: sc)
    }

    /// The graph query → neighbour; `addingSelfLoops` also adds i → i (square graphs).
    public func graph(addingSelfLoops: Bool = false) throws -> CSRGraph {
        let g = try CSRGraph(columnCount: referenceCount, rowCount: queryCount, k: k, flatNeighbors: indices)
        return addingSelfLoops ? try g.addingSelfLoops() : g
    }
}

/// k-nearest-neighbour graphs, built by the OpenMP C kernels: a uniform grid for 2-D positions,
/// GEMM tiles with exact re-ranking for descriptors. Results are exact and do not depend on the
/// thread count.
public enum KNNGraph {
    /// The `k` nearest `references` of every row of `queries`.
    /// - Parameter excludingSelf: for a set searched against itself (`queries` and `references`
    ///   are the same points): a point is never its own neighbour, its duplicates still are.
    ///   Then `k` must be below the number of points.
    public static func neighbors(of queries: Matrix, among references: Matrix, k: Int,
                                 metric: NeighborMetric = .euclidean, excludingSelf: Bool = false,
                                 threads: Int = 0) throws -> NeighborLists {
        try require(queries.rows >= 1, "k-NN needs at least one query point")
        try require(references.rows >= 1, "k-NN needs at least one reference point")
        try require(queries.columns >= 1, "points need at least one coordinate")
        guard queries.columns == references.columns else {
            throw SparseGlueError.shapeMismatch(
                "queries have \(queries.columns) dimensions, references \(references.columns)")
        }
        if excludingSelf {
            guard queries.rows == references.rows else {
                throw SparseGlueError.shapeMismatch("a self graph needs one point set (\(queries.rows) ≠ \(references.rows))")
            }
            try require(k >= 1 && k < references.rows,
                        "k = \(k) must be in 1...\(references.rows - 1) for \(references.rows) points (a point is not its own neighbour)")
        } else {
            try require(k >= 1 && k <= references.rows,
                        "k = \(k) must be in 1...\(references.rows) for \(references.rows) reference points")
        }
        try queries.checkFinite("k-NN queries")
        try references.checkFinite("k-NN references")
        let similarity: Kernels.Similarity? = switch metric {
        case .euclidean: nil
        case .dot: .dot
        case .cosine: .cosine
        }
        let (indices, scores) = try Kernels.nearest(queries: queries, references: references, k: k,
                                                    similarity: similarity, excludeDiagonal: excludingSelf,
                                                    threads: threads)
        return NeighborLists(queryCount: queries.rows, referenceCount: references.rows, k: k, metric: metric,
                             indices: indices, scores: scores)
    }

    /// Each query's `k` references of largest dot product, best first, ties to the lower index —
    /// ranked on float GEMM scores (one GEMM per 128-row block, then an O(m) selection per row), so
    /// several times faster than `neighbors(…, metric: .dot)`, whose ranking is exact: here pairs
    /// within float rounding of each other may swap. Meant for attention graphs (the sparse
    /// LightGlue cross graphs use it), where such near-ties do not matter. Results do not depend
    /// on the thread count.
    public static func fastTopDot(of queries: Matrix, among references: Matrix, k: Int,
                                  threads: Int = 0) throws -> NeighborLists {
        let (indices, scores) = try Kernels.topKDotRows(queries, references, k: k, threads: threads)
        return NeighborLists(queryCount: queries.rows, referenceCount: references.rows, k: k, metric: .dot,
                             indices: indices, scores: scores)
    }

    /// The self graph kNN(k) over `points` (positions n×2 or descriptors n×D): row i attends to its
    /// k nearest other points and, with `includeSelf` (the attention default), to itself.
    public static func build(points: Matrix, k: Int, metric: NeighborMetric = .euclidean,
                             includeSelf: Bool = true, threads: Int = 0) throws -> CSRGraph {
        try neighbors(of: points, among: points, k: k, metric: metric, excludingSelf: true, threads: threads)
            .graph(addingSelfLoops: includeSelf)
    }

    /// The bipartite graph from each point of `queries` to its `k` most similar points of
    /// `references` (cross-attention).
    public static func cross(from queries: Matrix, to references: Matrix, k: Int,
                             metric: NeighborMetric = .cosine, threads: Int = 0) throws -> CSRGraph {
        try neighbors(of: queries, among: references, k: k, metric: metric, threads: threads).graph()
    }
}
