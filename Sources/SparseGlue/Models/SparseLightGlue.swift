// Sparse LightGlue (training-free): the pretrained weights with attention restricted to sparse
// graphs. Self-attention on each keypoint's k nearest keypoints in its image, cross-attention on
// each point's k most similar points of the other image, the first layers kept dense.

/// Which graphs LightGlue's attention runs on; nil fields mean the complete graph (dense).
public struct LightGlueSparsity: Codable, Sendable, Equatable {
    /// Layers 0..<denseLayers run the published dense attention.
    public var denseLayers: Int
    /// Self-attention on each keypoint's `selfK` nearest keypoints (positions) plus itself.
    public var selfK: Int?
    /// Cross-attention on each point's `crossK` most similar points of the other image (cosine of
    /// the layer's input descriptors).
    public var crossK: Int?

    public init(denseLayers: Int = 0, selfK: Int? = nil, crossK: Int? = nil) {
        self.denseLayers = denseLayers
        self.selfK = selfK
        self.crossK = crossK
    }

    func validate(layers: Int) throws {
        try require(denseLayers >= 0 && denseLayers <= layers, "denseLayers must be in 0...\(layers), got \(denseLayers)")
        if let k = selfK { try require(k >= 1, "selfK must be ≥ 1, got \(k)") }
        if let k = crossK { try require(k >= 1, "crossK must be ≥ 1, got \(k)") }
    }
}

/// The graphs of one LightGlue layer over the points still kept; nil = complete graph.
struct LightGlueLayerGraphs {
    var self0: CSRGraph?
    var self1: CSRGraph?
    /// Rows = points of image 0, columns = points of image 1 (and the reverse).
    var cross01: CSRGraph?
    var cross10: CSRGraph?

    var hasCross: Bool { cross01 != nil || cross10 != nil }
    var isDense: Bool { self0 == nil && self1 == nil && !hasCross }
}

extension LightGlue {
    /// Self-attention of the rotary-encoded q, k on `graph`'s edges.
    func sparseSelfAttention(_ q: Matrix, _ k: Matrix, _ v: Matrix, graph: CSRGraph) throws -> Matrix {
        try AttentionOperator.apply(queries: q, keys: k, values: v, heads: configuration.heads, graph: graph,
                                    backend: .sparse, threads: threads).output
    }

    /// Cross messages (m0 for image 0's points, m1 for image 1's) over the layer's cross graphs; a
    /// direction without a graph stays dense.
    func sparseCrossAttention(_ qk0: Matrix, _ qk1: Matrix, _ v0: Matrix, _ v1: Matrix,
                              graphs g: LightGlueLayerGraphs) throws -> (Matrix, Matrix) {
        let h = configuration.heads
        let m0 = try AttentionOperator.apply(queries: qk0, keys: qk1, values: v1, heads: h, graph: g.cross01,
                                             backend: g.cross01 == nil ? .dense : .sparse, threads: threads).output
        let m1 = try AttentionOperator.apply(queries: qk1, keys: qk0, values: v0, heads: h, graph: g.cross10,
                                             backend: g.cross10 == nil ? .dense : .sparse, threads: threads).output
        return (m0, m1)
    }
}

extension LightGlueSparsity {
    /// Graphs of layer `layer` from the kept points' normalised positions and input descriptors;
    /// nil when the layer is dense. k is clamped to the number of points available.
    func graphs(layer: Int, positions0: Matrix, positions1: Matrix, descriptors0: Matrix, descriptors1: Matrix,
                threads: Int) throws -> LightGlueLayerGraphs? {
        guard layer >= denseLayers else { return nil }
        var g = LightGlueLayerGraphs()
        if let k = selfK {
            func selfGraph(_ p: Matrix) throws -> CSRGraph? {
                let kk = Swift.min(k, p.rows - 1)
                return kk >= 1 ? try KNNGraph.build(points: p, k: kk, threads: threads) : nil
            }
            g.self0 = try selfGraph(positions0)
            g.self1 = try selfGraph(positions1)
        }
        if let k = crossK {
            g.cross01 = try KNNGraph.cross(from: descriptors0, to: descriptors1, k: Swift.min(k, descriptors1.rows),
                                           threads: threads)
            g.cross10 = try KNNGraph.cross(from: descriptors1, to: descriptors0, k: Swift.min(k, descriptors0.rows),
                                           threads: threads)
        }
        return g.isDense ? nil : g
    }
}

extension LightGlueSparsity {
    /// The recommended training-free variant (chosen on the fixture pairs; see docs/sparse-lightglue.md).
    public static let recommended = LightGlueSparsity(denseLayers: 1, selfK: 32, crossK: 64)
}

extension LightGlueSparsity {
    /// "dense L0–L1, self kNN 32, cross top-64".
    public var summary: String {
        var parts = [String]()
        if denseLayers > 0 { parts.append("first \(denseLayers) layer\(denseLayers == 1 ? "" : "s") dense") }
        parts.append(selfK.map { "self kNN \($0)" } ?? "self dense")
        parts.append(crossK.map { "cross top-\($0)" } ?? "cross dense")
        return parts.joined(separator: ", ")
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
