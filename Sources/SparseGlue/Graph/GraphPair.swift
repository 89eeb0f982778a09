/// The two graphs a multi-scale layer attends over: a small neighbourhood G1 and a larger one G2.
///
/// - `nested`: G1 = kNN(k1) ⊂ G2 = kNN(k2). f2 sees everything f1 sees, and more.
/// - `disjoint`: G1 = kNN(k1), G2 = kNN(k2) \ kNN(k1). The two messages come from different
///   nodes; G1 ∪ G2 = kNN(k2).
///
/// Both come from one k2-NN search: the k1-NN lists are its prefixes (exact, thanks to the
/// deterministic tie rule). Self-loops, when requested, belong to G1 only.
public struct GraphPair: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable, Codable { case nested, disjoint }

    public let kind: Kind
    public let k1: Int
    public let k2: Int
    public let g1: CSRGraph
    public let g2: CSRGraph

    public static func nested(points: Matrix, k1: Int, k2: Int, metric: NeighborMetric = .euclidean,
                              includeSelf: Bool = true, threads: Int = 0) throws -> GraphPair {
        try make(.nested, points: points, k1: k1, k2: k2, metric: metric, includeSelf: includeSelf, threads: threads)
    }

    public static func disjoint(points: Matrix, k1: Int, k2: Int, metric: NeighborMetric = .euclidean,
                                includeSelf: Bool = true, threads: Int = 0) throws -> GraphPair {
        try make(.disjoint, points: points, k1: k1, k2: k2, metric: metric, includeSelf: includeSelf, threads: threads)
    }

    public static func make(_ kind: Kind, points: Matrix, k1: Int, k2: Int, metric: NeighborMetric = .euclidean,
                            includeSelf: Bool = true, threads: Int = 0) throws -> GraphPair {
        try require(k1 >= 1 && k1 < k2, "a graph pair needs 1 ≤ k1 < k2, got k1 = \(k1), k2 = \(k2)")
        let lists = try KNNGraph.neighbors(of: points, among: points, k: k2, metric: metric,
                                           excludingSelf: true, threads: threads)
        let g1 = try lists.prefix(k1).graph(addingSelfLoops: includeSelf)
        var g2 = try lists.graph(addingSelfLoops: includeSelf)
        if kind == .disjoint { g2 = try g2.subtracting(g1, threads: threads) }
        return GraphPair(kind: kind, k1: k1, k2: k2, g1: g1, g2: g2)
    }
}
