/// The orthogonal projection at the heart of multi-scale fusion: per node,
/// `g1 = f1 − (⟨f1, f2⟩ / (‖f2‖² + ε)) f2`, the part of f1 that f2 does not already carry.
public enum OrthogonalFusion {
    /// g1 (n × d) and |cos(f1, f2)| per node (0 where either row is zero; never NaN).
    public static func project(_ f1: Matrix, onto f2: Matrix, epsilon: Float = 1e-6,
                               threads: Int = 0) throws -> (orthogonal: Matrix, absoluteCosines: [Float]) {
        try require(epsilon > 0 && epsilon.isFinite, "fusion epsilon must be positive and finite")
        let r = try Kernels.orthogonalFusion(f1, f2, epsilon: epsilon, threads: threads)
        return (r.g1, r.absCos)
    }

    /// mean |cos(f1, f2)| over nodes: 0 when the two messages are orthogonal everywhere. Used as the
    /// orthogonality loss term once training exists.
    public static func orthogonality(_ f1: Matrix, _ f2: Matrix, threads: Int = 0) throws -> Float {
        let c = try project(f1, onto: f2, threads: threads).absoluteCosines
        return c.isEmpty ? 0 : Float(c.reduce(0.0) { $0 + Double($1) } / Double(c.count))
    }
}

/// Multi-scale fusion block: attention over G1 gives f1, attention over G2 gives f2 (one set of
/// projections, two graphs); then `[f2 ‖ g1] → MLP (2d → 2d → d)` with g1 the part of f1 orthogonal
/// to f2 (`.orthogonal`), or `[f2 ‖ f1]` (`.concatenation`, the comparison variant).
public struct MultiScaleFusion: Sendable, Equatable {
    public enum Mode: String, Sendable, Codable, CaseIterable { case orthogonal, concatenation }

    public struct Output: Sendable {
        /// The fused message, n × d.
        public let message: Matrix
        public let f1: Matrix
        public let f2: Matrix
        /// mean |cos(f1, f2)| (the orthogonality measure / loss term).
        public let orthogonality: Float
    }

    public private(set) var attention: MultiHeadAttention
    public private(set) var mlp: MLP
    public let mode: Mode
    public let epsilon: Float

    public init(dimension: Int, heads: Int, mode: Mode = .orthogonal, epsilon: Float = 1e-6,
                generator: inout SeededGenerator) throws {
        attention = try MultiHeadAttention(dimension: dimension, heads: heads, generator: &generator)
        mlp = try MLP(dimensions: [2 * dimension, 2 * dimension, dimension], generator: &generator)
        self.mode = mode
        self.epsilon = epsilon
    }

    public init(attention: MultiHeadAttention, mlp: MLP, mode: Mode = .orthogonal, epsilon: Float = 1e-6) throws {
        guard mlp.inputDimension == 2 * attention.dimension, mlp.outputDimension == attention.dimension else {
            throw SparseGlueError.shapeMismatch(
                "fusion MLP must map \(2 * attention.dimension) → \(attention.dimension), got \(mlp.inputDimension) → \(mlp.outputDimension)")
        }
        try require(epsilon > 0 && epsilon.isFinite, "fusion epsilon must be positive and finite")
        self.attention = attention
        self.mlp = mlp
        self.mode = mode
        self.epsilon = epsilon
    }

    /// Messages to `x` from `senders` over the pair (g1, g2).
    public func callAsFunction(_ x: Matrix, senders: Matrix, values: Matrix? = nil, g1: CSRGraph?, g2: CSRGraph?,
                               backend: AttentionBackend, threads: Int = 0) throws -> Output {
        let p = try attention.project(receivers: x, senders: senders, values: values ?? senders, threads: threads)
        let f1 = try attention.attend(p, graph: g1, backend: backend, threads: threads).output
        let f2 = try attention.attend(p, graph: g2, backend: backend, threads: threads).output
        let (g1Part, cosines) = try OrthogonalFusion.project(f1, onto: f2, epsilon: epsilon, threads: threads)
        let second = mode == .orthogonal ? g1Part : f1
        let message = try mlp(try f2.concatenatingColumns(second), threads: threads)
        let mean = cosines.isEmpty ? 0 : Float(cosines.reduce(0.0) { $0 + Double($1) } / Double(cosines.count))
        return Output(message: message, f1: f1, f2: f2, orthogonality: mean)
    }
}

/// SuperGlue's attentional propagation update: `x ← x + MLP([x ‖ message])`, MLP 2d → 2d → d.
public struct PropagationBlock: Sendable, Equatable {
    public private(set) var mlp: MLP

    public init(dimension: Int, activation: Activation = .gelu, generator: inout SeededGenerator) throws {
        mlp = try MLP(dimensions: [2 * dimension, 2 * dimension, dimension], activation: activation, generator: &generator)
    }

    public init(mlp: MLP) throws {
        guard mlp.inputDimension == 2 * mlp.outputDimension else {
            throw SparseGlueError.shapeMismatch("propagation MLP must map 2d → d, got \(mlp.inputDimension) → \(mlp.outputDimension)")
        }
        self.mlp = mlp
    }

    public func callAsFunction(_ x: Matrix, message: Matrix, threads: Int = 0) throws -> Matrix {
        guard message.rows == x.rows, message.columns == x.columns else {
            throw SparseGlueError.shapeMismatch("message is \(message.rows)×\(message.columns), nodes are \(x.rows)×\(x.columns)")
        }
        return try x + mlp(try x.concatenatingColumns(message), threads: threads)
    }
}
