#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Configuration of an attentional GNN over two keypoint sets. Defaults follow LightGlue's
/// dimensions (d = 256, 4 heads, 9 layers); the graph and value policies are the research options.
public struct GNNConfiguration: Sendable, Equatable, Codable {
    /// Feature dimension d of every node.
    public var dimension: Int = 256
    /// Attention heads; must divide `dimension`.
    public var heads: Int = 4
    /// Layers; each runs a self block then a cross block on both images.
    public var layers: Int = 9
    public var graphs: GraphPolicy = .complete
    public var values: ValuePolicy = .fresh
    /// How a (G1, G2) self-graph pair is fused.
    public var fusion: MultiScaleFusion.Mode = .orthogonal
    /// Seed of the random initialisation.
    public var seed: UInt64 = 0

    public init() {}

    public func validate() throws {
        try require(dimension >= 1 && heads >= 1 && layers >= 1, "dimension, heads and layers must be ≥ 1")
        guard dimension % heads == 0 else {
            throw SparseGlueError.shapeMismatch("\(heads) heads do not divide the dimension \(dimension)")
        }
        try graphs.validate()
        try values.validate()
    }
}

/// One image's keypoints: positions (n × 2, any consistent unit) and descriptors (n × d).
public struct KeypointSet: Sendable, Equatable {
    public let positions: Matrix
    public let descriptors: Matrix

    public init(positions: Matrix, descriptors: Matrix) throws {
        try require(positions.rows >= 1, "a keypoint set needs at least one keypoint")
        guard positions.columns == 2 else {
            throw SparseGlueError.shapeMismatch("keypoint positions must be n × 2, got \(positions.rows)×\(positions.columns)")
        }
        guard descriptors.rows == positions.rows else {
            throw SparseGlueError.shapeMismatch("\(positions.rows) positions but \(descriptors.rows) descriptors")
        }
        try positions.checkFinite("keypoint positions")
        try descriptors.checkFinite("keypoint descriptors")
        self.positions = positions
        self.descriptors = descriptors
    }

    public var count: Int { positions.rows }
}

/// What one layer did, for reports and for comparing dense and sparse variants.
public struct LayerReport: Sendable {
    public let layer: Int
    public let complete: Bool
    /// Self-graph edges of image A and B, cross edges A → B and B → A (nil: complete graph).
    public let selfEdges: (Int?, Int?)
    public let crossEdges: (Int?, Int?)
    /// mean |cos(f1, f2)| of the fusion blocks (nil when no pair was used).
    public let orthogonality: Float?
    public let graphSeconds: Double
    public let attentionSeconds: Double
}

/// A SuperGlue-style attentional GNN with sparse graphs: per layer, a self block (attention over
/// the image's own graph, or multi-scale fusion over a graph pair) and a cross block (attention
/// to the other image over the cross graph), each followed by `x ← x + MLP([x ‖ m])`.
public struct SparseAttentionalGNN: Sendable {
    public let configuration: GNNConfiguration

    /// Per layer: self block (as fusion, used with a single graph too: then only `attention`),
    /// cross attention, and the two propagation MLPs.
    struct Layer: Sendable {
        var selfFusion: MultiScaleFusion
        var selfUpdate: PropagationBlock
        var crossAttention: MultiHeadAttention
        var crossUpdate: PropagationBlock
    }

    var layers: [Layer]

    /// A network with seeded random weights.
    public init(configuration: GNNConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        var rng = SeededGenerator(seed: configuration.seed)
        let d = configuration.dimension, h = configuration.heads
        layers = try (0..<configuration.layers).map { _ in
            Layer(selfFusion: try MultiScaleFusion(dimension: d, heads: h, mode: configuration.fusion, generator: &rng),
                  selfUpdate: try PropagationBlock(dimension: d, generator: &rng),
                  crossAttention: try MultiHeadAttention(dimension: d, heads: h, generator: &rng),
                  crossUpdate: try PropagationBlock(dimension: d, generator: &rng))
        }
    }

    public struct Output: Sendable {
        public let descriptorsA: Matrix
        public let descriptorsB: Matrix
        public let layers: [LayerReport]
    }

    /// Runs every layer on the two keypoint sets with `backend`.
    public func callAsFunction(_ a: KeypointSet, _ b: KeypointSet, backend: AttentionBackend,
                               threads: Int = 0) throws -> Output {
        let d = configuration.dimension
        guard a.descriptors.columns == d, b.descriptors.columns == d else {
            throw SparseGlueError.shapeMismatch(
                "descriptors must have \(d) features, got \(a.descriptors.columns) and \(b.descriptors.columns)")
        }
        let policy = configuration.graphs
        var xa = a.descriptors, xb = b.descriptors
        var valuesA = xa, valuesB = xb
        var cachedSelf: (SelfGraphs, SelfGraphs)?
        var cachedCross: (CSRGraph?, CSRGraph?)?
        var reports = [LayerReport]()

        for (index, layer) in layers.enumerated() {
            let complete = index < policy.completeLayers
            if configuration.values.refreshes(atLayer: index) { (valuesA, valuesB) = (xa, xb) }

            // Graphs: built on the first sparse layer, then reused or rebuilt per the schedule.
            let graphStart = monotonicSeconds()
            var selfGraphs: (SelfGraphs, SelfGraphs) = (.single(nil), .single(nil))
            var crossGraphs: (CSRGraph?, CSRGraph?) = (nil, nil)
            if !complete {
                let rebuild = policy.schedule == .everyLayer
                if cachedSelf == nil || (rebuild && policy.source == .descriptors) {
                    let (pa, pb) = policy.source == .positions ? (a.positions, b.positions) : (xa, xb)
                    cachedSelf = (try policy.buildSelfGraphs(points: pa, threads: threads),
                                  try policy.buildSelfGraphs(points: pb, threads: threads))
                }
                if cachedCross == nil || rebuild {
                    cachedCross = (try policy.buildCrossGraph(receivers: xa, senders: xb, threads: threads),
                                   try policy.buildCrossGraph(receivers: xb, senders: xa, threads: threads))
                }
                selfGraphs = cachedSelf!
                crossGraphs = cachedCross!
            }
            let graphSeconds = monotonicSeconds() - graphStart

            let attentionStart = monotonicSeconds()
            var orthogonality: [Float] = []
            func selfMessage(_ x: Matrix, _ values: Matrix, _ graphs: SelfGraphs) throws -> Matrix {
                switch graphs {
                case .single(let g):
                    return try layer.selfFusion.attention(x, senders: x, values: values, graph: g,
                                                          backend: g == nil ? completeBackend(backend) : backend,
                                                          threads: threads)
                case let .pair(g1, g2):
                    let out = try layer.selfFusion(x, senders: x, values: values, g1: g1, g2: g2, backend: backend,
                                                   threads: threads)
                    orthogonality.append(out.orthogonality)
                    return out.message
                }
            }
            xa = try layer.selfUpdate(xa, message: try selfMessage(xa, valuesA, selfGraphs.0), threads: threads)
            xb = try layer.selfUpdate(xb, message: try selfMessage(xb, valuesB, selfGraphs.1), threads: threads)

            // Both cross messages read the pre-update states, as in SuperGlue and LightGlue.
            let crossA = try layer.crossAttention(xa, senders: xb, values: valuesB,
                                                  graph: crossGraphs.0,
                                                  backend: crossGraphs.0 == nil ? completeBackend(backend) : backend,
                                                  threads: threads)
            let crossB = try layer.crossAttention(xb, senders: xa, values: valuesA, graph: crossGraphs.1,
                                                  backend: crossGraphs.1 == nil ? completeBackend(backend) : backend,
                                                  threads: threads)
            xa = try layer.crossUpdate(xa, message: crossA, threads: threads)
            xb = try layer.crossUpdate(xb, message: crossB, threads: threads)
            let attentionSeconds = monotonicSeconds() - attentionStart

            reports.append(LayerReport(
                layer: index, complete: complete,
                selfEdges: (selfGraphs.0.edgeCount, selfGraphs.1.edgeCount),
                crossEdges: (crossGraphs.0?.edgeCount, crossGraphs.1?.edgeCount),
                orthogonality: orthogonality.isEmpty ? nil : orthogonality.reduce(0, +) / Float(orthogonality.count),
                graphSeconds: graphSeconds, attentionSeconds: attentionSeconds))
        }
        return Output(descriptorsA: xa, descriptorsB: xb, layers: reports)
    }

    /// Complete graphs run dense unless the caller asked for masked-dense (same cost class).
    private func completeBackend(_ backend: AttentionBackend) -> AttentionBackend {
        if case .maskedDense = backend { return backend }
        return .dense
    }
}

/// Seconds on a monotonic clock, for coarse per-layer timing in reports.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
