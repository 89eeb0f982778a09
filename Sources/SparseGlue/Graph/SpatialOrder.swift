/// Orders of keypoints that keep spatial neighbours close in index.
///
/// Sparse attention over a k-NN graph reads the K and V rows of every node's neighbours. When the
/// nodes are numbered in an arbitrary order (detector output, random sampling), those rows are
/// scattered over the whole matrix and each query row misses the cache. Renumbering the keypoints
/// along a space-filling curve first gives neighbours nearby indices, so the rows a query gathers
/// were mostly just used by the previous queries. The renumbering changes nothing else: attention
/// over the renumbered points and graph is the original result with its rows permuted.
///
/// ```swift
/// let order = try SpatialOrder.hilbert(points)       // new keypoint r = old keypoint order[r]
/// let points = try points.permutingRows(order)
/// let features = try features.permutingRows(order)   // every per-keypoint matrix alike
/// let graph = try KNNGraph.build(points: points, k: 32)
/// ```
public enum SpatialOrder {
    /// The permutation visiting 2-D points (an n × 2 matrix of x, y) along a Hilbert curve:
    /// element r is the index of the point visited r-th. Points are quantised to a 2¹⁶ × 2¹⁶ grid
    /// of square cells over the larger side of their bounding box; points in one cell keep their
    /// index order. Deterministic, O(n).
    public static func hilbert(_ points: Matrix) throws -> [Int] {
        guard points.columns == 2 else {
            throw SparseGlueError.shapeMismatch("a Hilbert order needs n × 2 points, got \(points.rows)×\(points.columns)")
        }
        try require(points.rows >= 1, "a Hilbert order needs at least one point")
        try points.checkFinite("Hilbert order points")
        return try Kernels.spaceFillingOrder(points).map { Int($0) }
    }
}

extension Matrix {
    /// The rows reordered by a permutation: row r of the result is row `permutation[r]` of this
    /// matrix. Throws unless `permutation` holds every index in `0 ..< rows` exactly once.
    public func permutingRows(_ permutation: [Int]) throws -> Matrix {
        guard permutation.count == rows else {
            throw SparseGlueError.shapeMismatch("a permutation of \(permutation.count) indices for \(rows) rows")
        }
        var seen = [Bool](repeating: false, count: rows)
        for i in permutation {
            try require(i >= 0 && i < rows && !seen[i], "not a permutation: index \(i) is out of range or repeated")
            seen[i] = true
        }
        return try gatheringRows(permutation)
    }
}
