/// Multi-head attention with learned projections (SuperGlue's `MultiHeadedAttention`):
/// Q = Wq·x, K = Wk·s, V = Wv·v, heads packed along the features, merged by Wo.
///
/// `x` are the nodes receiving messages (rows of the graph), `s` the nodes sending them (its
/// columns): the same set for self-attention, the other image for cross-attention. Values may come
/// from another matrix than keys (see `ValuePolicy`).
public struct MultiHeadAttention: Sendable, Equatable {
    public let dimension: Int
    public let heads: Int
    public private(set) var query: Linear
    public private(set) var key: Linear
    public private(set) var value: Linear
    public private(set) var output: Linear

    public init(dimension: Int, heads: Int, generator: inout SeededGenerator) throws {
        try require(dimension >= 1 && heads >= 1, "attention needs positive dimension and heads")
        guard dimension % heads == 0 else {
            throw SparseGlueError.shapeMismatch("\(heads) heads do not divide the dimension \(dimension)")
        }
        self.dimension = dimension
        self.heads = heads
        query = try Linear(inputs: dimension, outputs: dimension, generator: &generator)
        key = try Linear(inputs: dimension, outputs: dimension, generator: &generator)
        value = try Linear(inputs: dimension, outputs: dimension, generator: &generator)
        output = try Linear(inputs: dimension, outputs: dimension, generator: &generator)
    }

    /// A layer from given projections (each `dimension × dimension`).
    public init(heads: Int, query: Linear, key: Linear, value: Linear, output: Linear) throws {
        let d = query.outputs
        for (name, l) in [("query", query), ("key", key), ("value", value), ("output", output)] {
            guard l.inputs == d, l.outputs == d else {
                throw SparseGlueError.shapeMismatch("\(name) projection is \(l.outputs)×\(l.inputs), expected \(d)×\(d)")
            }
        }
        guard heads >= 1, d % heads == 0 else {
            throw SparseGlueError.shapeMismatch("\(heads) heads do not divide the dimension \(d)")
        }
        dimension = d
        self.heads = heads
        self.query = query
        self.key = key
        self.value = value
        self.output = output
    }

    /// Projected queries, keys and values, computed once and reused for every graph of a layer.
    public struct Projections: Sendable {
        public let queries: Matrix
        public let keys: Matrix
        public let values: Matrix
    }

    public func project(receivers x: Matrix, senders s: Matrix, values v: Matrix, threads: Int = 0) throws -> Projections {
        guard v.rows == s.rows else {
            throw SparseGlueError.shapeMismatch("values have \(v.rows) rows for \(s.rows) senders")
        }
        return Projections(queries: try query(x, threads: threads), keys: try key(s, threads: threads),
                           values: try value(v, threads: threads))
    }

    /// Attention over `graph` (nil: complete) followed by the output projection.
    public func attend(_ p: Projections, graph: CSRGraph?, backend: AttentionBackend,
                       returnWeights: Bool = false, threads: Int = 0) throws -> AttentionOperator.Result {
        let r = try AttentionOperator.apply(queries: p.queries, keys: p.keys, values: p.values, heads: heads,
                                            graph: graph, backend: backend, returnWeights: returnWeights,
                                            threads: threads)
        return AttentionOperator.Result(output: try output(r.output, threads: threads), edgeWeights: r.edgeWeights)
    }

    /// The message to `x` from `s` over `graph`; values from `values` (default: `s`).
    public func callAsFunction(_ x: Matrix, senders s: Matrix, values: Matrix? = nil, graph: CSRGraph?,
                               backend: AttentionBackend, threads: Int = 0) throws -> Matrix {
        try attend(project(receivers: x, senders: s, values: values ?? s, threads: threads), graph: graph, backend: backend,
                   threads: threads).output
    }
}
