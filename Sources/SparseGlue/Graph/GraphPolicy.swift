/// Which graph self-attention uses within one image.
public enum SelfGraphRecipe: Sendable, Equatable, Codable {
    /// Every keypoint attends to every keypoint (dense LightGlue / SuperGlue).
    case complete
    /// kNN(k) plus self.
    case knn(k: Int)
    /// Two graphs fused by `MultiScaleFusion`: nested (kNN(k1) ⊂ kNN(k2)) or disjoint.
    case pair(GraphPair.Kind, k1: Int, k2: Int)
    /// Attention only inside `groups` equal, spatially compact groups.
    case partition(groups: Int)
    /// The minimum spanning tree, optionally united with kNN(k).
    case spanningTree(unionWithKNN: Int?)
    /// k neighbours chosen from `candidates` nearest for new information (see `DiverseNeighbors`).
    case diverse(k: Int, candidates: Int, alpha: Float, beta: Float)
}

/// Which graph cross-attention uses from one image to the other.
public enum CrossGraphRecipe: Sendable, Equatable, Codable {
    case complete
    /// Each keypoint attends to its k most similar keypoints of the other image.
    case topK(k: Int, metric: NeighborMetric)
}

/// The self-attention graphs of one image in one layer: one graph, or a (G1, G2) pair.
public enum SelfGraphs: Sendable, Equatable {
    case single(CSRGraph?)   // nil: complete
    case pair(g1: CSRGraph, g2: CSRGraph)

    public var edgeCount: Int? {
        switch self {
        case .single(let g): g?.edgeCount
        case .pair(let g1, let g2): g1.edgeCount + g2.edgeCount
        }
    }
}

/// When and from what the graphs of a GNN are built.
public struct GraphPolicy: Sendable, Equatable, Codable {
    /// What self graphs are measured on. Cross graphs always use descriptors.
    public enum Source: String, Sendable, Codable, CaseIterable { case positions, descriptors }
    /// `.once`: from the input, reused by every layer. `.everyLayer`: rebuilt from the layer's
    /// updated descriptors (self graphs over positions do not change and are kept).
    public enum Schedule: String, Sendable, Codable, CaseIterable { case once, everyLayer }

    public var selfGraph: SelfGraphRecipe
    public var crossGraph: CrossGraphRecipe
    public var source: Source
    public var schedule: Schedule
    /// The first `completeLayers` layers use complete graphs, sparse ones after that.
    public var completeLayers: Int

    public init(selfGraph: SelfGraphRecipe = .complete, crossGraph: CrossGraphRecipe = .complete,
                source: Source = .positions, schedule: Schedule = .once, completeLayers: Int = 0) {
        self.selfGraph = selfGraph
        self.crossGraph = crossGraph
        self.source = source
        self.schedule = schedule
        self.completeLayers = completeLayers
    }

    /// The dense baseline: complete graphs everywhere.
    public static let complete = GraphPolicy()

    public func validate() throws {
        try require(completeLayers >= 0, "completeLayers must be ≥ 0, got \(completeLayers)")
        switch selfGraph {
        case .complete: break
        case .knn(let k): try require(k >= 1, "self kNN needs k ≥ 1, got \(k)")
        case .pair(_, let k1, let k2): try require(k1 >= 1 && k1 < k2, "a graph pair needs 1 ≤ k1 < k2")
        case .partition(let g): try require(g >= 1, "a partition needs ≥ 1 group")
        case .spanningTree(let k): try require(k.map { $0 >= 1 } ?? true, "spanning tree kNN union needs k ≥ 1")
        case .diverse(let k, let c, let a, let b):
            try require(k >= 1 && k <= c && a >= 0 && b >= 0, "diverse neighbours need 1 ≤ k ≤ candidates, α, β ≥ 0")
        }
        if case .topK(let k, _) = crossGraph { try require(k >= 1, "cross top-k needs k ≥ 1, got \(k)") }
    }

    /// Builds the self graphs of one image from `points` (positions or descriptors, per `source`).
    public func buildSelfGraphs(points: Matrix, threads: Int = 0) throws -> SelfGraphs {
        switch selfGraph {
        case .complete: return .single(nil)
        case .knn(let k): return .single(try KNNGraph.build(points: points, k: k, threads: threads))
        case let .pair(kind, k1, k2):
            let p = try GraphPair.make(kind, points: points, k1: k1, k2: k2, threads: threads)
            return .pair(g1: p.g1, g2: p.g2)
        case .partition(let groups):
            return .single(try EqualPartition(points: points, groups: groups).graph())
        case .spanningTree(let k):
            let tree = try MinimumSpanningTree(points: points, threads: threads)
            return .single(try k.map { try tree.graph(unionWithKNN: $0, points: points, threads: threads) } ?? tree.graph())
        case let .diverse(k, candidates, alpha, beta):
            return .single(try DiverseNeighbors.build(points: points, k: k, candidates: candidates, alpha: alpha,
                                                      beta: beta, threads: threads))
        }
    }

    /// Builds the cross graph from `receivers` to `senders` (descriptors); nil means complete.
    public func buildCrossGraph(receivers: Matrix, senders: Matrix, threads: Int = 0) throws -> CSRGraph? {
        switch crossGraph {
        case .complete: return nil
        case let .topK(k, metric):
            return try KNNGraph.cross(from: receivers, to: senders, k: min(k, senders.rows), metric: metric, threads: threads)
        }
    }
}

/// Where attention takes its values V from (keys always come from the current layer input).
public enum ValuePolicy: Sendable, Equatable, Codable {
    /// V from the current layer input (standard).
    case fresh
    /// V from the input descriptors of the first layer, in every layer.
    case original
    /// V from the layer input at layers 0, R, 2R, …, kept in between.
    case refreshEvery(Int)

    public func validate() throws {
        if case .refreshEvery(let r) = self { try require(r >= 1, "value refresh period must be ≥ 1, got \(r)") }
    }

    /// Whether layer `layer` takes a new value source.
    func refreshes(atLayer layer: Int) -> Bool {
        switch self {
        case .fresh: true
        case .original: layer == 0
        case .refreshEvery(let r): layer % r == 0
        }
    }
}
