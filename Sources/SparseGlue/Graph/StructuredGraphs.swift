/// Equal partition of a point set into `groups` mutually exclusive, spatially compact groups of
/// near-equal size (sizes differ by at most one), by recursive median bisection. Attention
/// restricted to groups is a block-diagonal graph.
public struct EqualPartition: Sendable, Equatable {
    public let groupCount: Int
    /// The group of every point, in `0 ..< groupCount`.
    public let groupOfPoint: [Int32]

    public init(points: Matrix, groups: Int) throws {
        try require(points.rows >= 1, "partitioning needs at least one point")
        try require(groups >= 1 && groups <= points.rows,
                    "groups = \(groups) must be in 1...\(points.rows) for \(points.rows) points")
        try points.checkFinite("partition points")
        groupCount = groups
        groupOfPoint = try Kernels.partitionEqual(points, groups: groups)
    }

    /// The members of every group, ascending.
    public var members: [[Int32]] {
        var out = [[Int32]](repeating: [], count: groupCount)
        for (i, g) in groupOfPoint.enumerated() { out[Int(g)].append(Int32(i)) }
        return out
    }

    /// The block-diagonal graph: every point attends to all points of its group (itself included).
    public func graph() throws -> CSRGraph {
        let groups = members
        let n = groupOfPoint.count
        var rowPointers = [Int64](repeating: 0, count: n + 1)
        for i in 0..<n { rowPointers[i + 1] = rowPointers[i] + Int64(groups[Int(groupOfPoint[i])].count) }
        var columns = [Int32](repeating: 0, count: Int(rowPointers[n]))
        columns.withUnsafeMutableBufferPointer { c in
            for i in 0..<n {
                let row = groups[Int(groupOfPoint[i])]
                row.withUnsafeBufferPointer { src in
                    (c.baseAddress! + Int(rowPointers[i])).update(from: src.baseAddress!, count: src.count)
                }
            }
        }
        return CSRGraph(unchecked: n, n, rowPointers, columns)
    }
}

/// The Euclidean minimum spanning tree of a point set (Prim on the complete graph, O(n²·dim)
/// time, O(n) memory, ties by lower index), as a symmetric graph: it connects every keypoint with
/// only n − 1 undirected edges, which kNN graphs cannot promise.
public struct MinimumSpanningTree: Sendable, Equatable {
    /// `parents[i]` is i's neighbour towards the root (point 0), −1 for the root.
    public let parents: [Int32]
    /// Length of the edge (i, parents[i]); 0 for the root.
    public let lengths: [Float]

    public init(points: Matrix, threads: Int = 0) throws {
        try require(points.rows >= 1, "a spanning tree needs at least one point")
        try require(points.columns >= 1, "points need at least one coordinate")
        try points.checkFinite("spanning tree points")
        (parents, lengths) = try Kernels.minimumSpanningTree(points, threads: threads)
    }

    /// The n − 1 undirected tree edges as (child, parent).
    public var edges: [(Int32, Int32)] {
        parents.enumerated().compactMap { i, p in p >= 0 ? (Int32(i), p) : nil }
    }

    /// Sum of the edge lengths.
    public var totalLength: Double { lengths.reduce(0) { $0 + Double($1) } }

    /// The symmetric tree graph; `includeSelf` adds i → i so a node also attends to itself.
    public func graph(includeSelf: Bool = true) throws -> CSRGraph {
        let n = parents.count
        let e = edges
        let g: CSRGraph
        if e.isEmpty {
            g = CSRGraph(unchecked: n, n, [Int64](repeating: 0, count: n + 1), [])
        } else {
            g = try CSRGraph(rowCount: n, columnCount: n, edges: e.map { (row: $0.0, column: $0.1) }, symmetric: true)
        }
        return includeSelf ? try g.addingSelfLoops() : g
    }

    /// The tree united with kNN(k) over the same points: local density plus guaranteed connectivity.
    public func graph(unionWithKNN k: Int, points: Matrix, includeSelf: Bool = true, threads: Int = 0) throws -> CSRGraph {
        try graph(includeSelf: includeSelf).union(
            KNNGraph.build(points: points, k: k, includeSelf: includeSelf, threads: threads), threads: threads)
    }
}

/// Neighbour selection that prefers neighbours adding new information: from the `candidates`
/// nearest points pick `k` greedily, maximising `alpha·closeness − beta·redundancy`, where
/// redundancy is the largest cosine between the candidate's direction (positions) or descriptor
/// and those already chosen. With beta = 0 this is plain kNN(k).
public enum DiverseNeighbors {
    public enum Feature: String, Sendable, Codable {
        /// Redundancy between directions p_j − p_i: prefers neighbours all around a point.
        case directions
        /// Redundancy between the neighbours' own vectors (descriptors): prefers varied content.
        case vectors
    }

    public static func build(points: Matrix, k: Int, candidates: Int, alpha: Float = 1, beta: Float = 1,
                             feature: Feature = .directions, includeSelf: Bool = true,
                             threads: Int = 0) throws -> CSRGraph {
        try require(k >= 1 && k <= candidates, "need 1 ≤ k ≤ candidates, got k = \(k), candidates = \(candidates)")
        try require(alpha >= 0 && beta >= 0 && alpha.isFinite && beta.isFinite,
                    "alpha and beta must be finite and non-negative")
        let lists = try KNNGraph.neighbors(of: points, among: points, k: candidates, excludingSelf: true, threads: threads)
        let chosen = try Kernels.diverseNeighbors(features: points, useOffsets: feature == .directions,
                                                  candidates: lists.indices, distances: lists.scores,
                                                  candidateCount: candidates, k: k, alpha: alpha, beta: beta,
                                                  threads: threads)
        let g = try CSRGraph(columnCount: points.rows, rowCount: points.rows, k: k, flatNeighbors: chosen)
        return includeSelf ? try g.addingSelfLoops() : g
    }
}
