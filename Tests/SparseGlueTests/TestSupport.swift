@testable import SparseGlue

/// Random points with integer coordinates in 0..<range: many exact ties and duplicates.
func gridPoints(_ n: Int, dim: Int = 2, range: Int = 12, seed: UInt64) throws -> Matrix {
    var rng = SeededGenerator(seed: seed)
    return try Matrix(rows: n, columns: dim, values: (0..<(n * dim)).map { _ in Float(rng.next() % UInt64(range)) })
}

func randomMatrix(_ rows: Int, _ columns: Int, seed: UInt64, std: Float = 1) throws -> Matrix {
    var rng = SeededGenerator(seed: seed)
    return try Matrix.gaussian(rows: rows, columns: columns, standardDeviation: std, using: &rng)
}

/// max |a − b| / max |b|: the relative error measure used for attention outputs.
func relativeError(_ a: Matrix, _ b: Matrix) throws -> Float {
    try a.maxAbsoluteDifference(b) / max(b.maxAbsoluteValue, .leastNormalMagnitude)
}

/// Row sets of a graph, for set-algebra assertions.
func edgeSet(_ g: CSRGraph) -> Set<Int> {
    var s = Set<Int>()
    for r in 0..<g.rowCount { for c in g.neighbors(of: r) { s.insert(r * g.columnCount + Int(c)) } }
    return s
}

/// Runs `body` and returns the thrown SparseGlueError (nil if nothing was thrown).
func thrownError(_ body: () throws -> Void) -> SparseGlueError? {
    do { try body() } catch let e as SparseGlueError { return e } catch { return nil }
    return nil
}
