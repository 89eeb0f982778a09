/// y = x·Wᵀ + b with W stored `outputs × inputs` (PyTorch's `nn.Linear` layout, so checkpoints load
/// without transposes).
public struct Linear: Sendable, Equatable {
    public private(set) var weight: Matrix
    public private(set) var bias: [Float]?

    public var inputs: Int { weight.columns }
    public var outputs: Int { weight.rows }

    /// PyTorch's default initialisation, U(−1/√inputs, 1/√inputs), from a seeded generator.
    public init(inputs: Int, outputs: Int, bias: Bool = true, generator: inout SeededGenerator) throws {
        try require(inputs >= 1 && outputs >= 1, "a linear layer needs ≥ 1 inputs and outputs, got \(inputs) → \(outputs)")
        let bound = 1 / Float(inputs).squareRoot()
        weight = try .uniform(rows: outputs, columns: inputs, in: -bound...bound, using: &generator)
        self.bias = bias ? (0..<outputs).map { _ in generator.nextFloat(in: -bound...bound) } : nil
    }

    /// A layer with the given weights (`outputs × inputs`) and optional bias (`outputs`).
    public init(weight: Matrix, bias: [Float]?) throws {
        try require(weight.rows >= 1 && weight.columns >= 1, "a linear layer needs a non-empty weight")
        if let bias, bias.count != weight.rows {
            throw SparseGlueError.shapeMismatch("bias has \(bias.count) values for \(weight.rows) outputs")
        }
        try weight.checkFinite("linear weight")
        if let bias, !Kernels.allFinite(bias) { throw SparseGlueError.nonFiniteInput("linear bias contains NaN or Inf") }
        self.weight = weight
        self.bias = bias
    }

    public func callAsFunction(_ x: Matrix, threads: Int = 0) throws -> Matrix {
        try Kernels.linear(x, weight: weight, bias: bias, threads: threads)
    }
}

/// Row-wise layer normalisation with learned scale and shift.
public struct LayerNorm: Sendable, Equatable {
    public private(set) var gamma: [Float]
    public private(set) var beta: [Float]
    public let epsilon: Float

    public init(dimension: Int, epsilon: Float = 1e-5) throws {
        try require(dimension >= 1, "layer norm needs a positive dimension")
        gamma = [Float](repeating: 1, count: dimension)
        beta = [Float](repeating: 0, count: dimension)
        self.epsilon = epsilon
    }

    public init(gamma: [Float], beta: [Float], epsilon: Float = 1e-5) throws {
        guard gamma.count == beta.count, !gamma.isEmpty else {
            throw SparseGlueError.shapeMismatch("layer norm gamma (\(gamma.count)) and beta (\(beta.count)) must match")
        }
        try require(epsilon > 0 && epsilon.isFinite, "layer norm epsilon must be positive")
        self.gamma = gamma
        self.beta = beta
        self.epsilon = epsilon
    }

    public var dimension: Int { gamma.count }

    public func callAsFunction(_ x: Matrix, threads: Int = 0) throws -> Matrix {
        try Kernels.layerNorm(x, gamma: gamma, beta: beta, epsilon: epsilon, threads: threads)
    }
}

/// The non-linearity between MLP layers.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case relu
    /// The exact (erf) GELU, as LightGlue uses.
    case gelu
}

/// Linear → LayerNorm → activation → … → Linear. `dimensions = [2d, 2d, d]` is the SuperGlue /
/// LightGlue message MLP.
public struct MLP: Sendable, Equatable {
    public private(set) var layers: [Linear]
    public private(set) var norms: [LayerNorm]
    public let activation: Activation

    public init(dimensions: [Int], activation: Activation = .gelu, generator: inout SeededGenerator) throws {
        try require(dimensions.count >= 2, "an MLP needs at least an input and an output dimension")
        var layers = [Linear]()
        var norms = [LayerNorm]()
        for i in 0..<(dimensions.count - 1) {
            layers.append(try Linear(inputs: dimensions[i], outputs: dimensions[i + 1], generator: &generator))
            if i < dimensions.count - 2 { norms.append(try LayerNorm(dimension: dimensions[i + 1])) }
        }
        self.layers = layers
        self.norms = norms
        self.activation = activation
    }

    /// An MLP from given layers; `norms.count` must be `layers.count − 1` with matching sizes.
    public init(layers: [Linear], norms: [LayerNorm], activation: Activation = .gelu) throws {
        try require(!layers.isEmpty, "an MLP needs at least one layer")
        guard norms.count == layers.count - 1 else {
            throw SparseGlueError.shapeMismatch("an MLP of \(layers.count) layers needs \(layers.count - 1) norms, got \(norms.count)")
        }
        for i in 0..<(layers.count - 1) {
            guard layers[i].outputs == layers[i + 1].inputs, norms[i].dimension == layers[i].outputs else {
                throw SparseGlueError.shapeMismatch("MLP layer \(i) outputs \(layers[i].outputs) features, next expects \(layers[i + 1].inputs)")
            }
        }
        self.layers = layers
        self.norms = norms
        self.activation = activation
    }

    public var inputDimension: Int { layers[0].inputs }
    public var outputDimension: Int { layers[layers.count - 1].outputs }

    public func callAsFunction(_ x: Matrix, threads: Int = 0) throws -> Matrix {
        var h = x
        for i in 0..<layers.count {
            h = try layers[i](h, threads: threads)
            if i < norms.count {
                h = try norms[i](h, threads: threads)
                try Kernels.activate(&h, gelu: activation == .gelu, threads: threads)
            }
        }
        return h
    }
}
