/// A directed graph in compressed sparse row form: row `i` (a target / query node) attends to the
/// columns `columnIndices[rowPointers[i] ..< rowPointers[i + 1]]` (source / key nodes).
///
/// Rows and columns may be different node sets (`rowCount != columnCount`): that is a bipartite
/// graph, the shape of cross-attention from one image's keypoints to the other's.
///
/// Invariants, checked on construction (`validate()`): `rowPointers.count == rowCount + 1`,
/// `rowPointers[0] == 0`, non-decreasing, the last equals `columnIndices.count`, and every row's
/// columns are strictly increasing (so unique) and in `0 ..< columnCount`.
public struct CSRGraph: Sendable, Equatable, CustomStringConvertible {
    public let rowCount: Int
    public let columnCount: Int
    public let rowPointers: [Int64]
    public let columnIndices: [Int32]

    /// A graph from CSR arrays; throws `.malformedGraph` when an invariant does not hold.
    public init(rowCount: Int, columnCount: Int, rowPointers: [Int64], columnIndices: [Int32]) throws {
        try require(rowCount >= 1 && columnCount >= 1,
                    "a graph needs at least one row and one column, got \(rowCount)×\(columnCount)")
        try require(rowCount <= Int(Int32.max) && columnCount <= Int(Int32.max),
                    "graphs hold fewer than 2^31 nodes")
        try Kernels.validateCSR(rows: rowCount, columns: columnCount, rowPointers: rowPointers,
                                columnIndices: columnIndices)
        self.init(unchecked: rowCount, columnCount, rowPointers, columnIndices)
    }

    /// For kernel outputs, which are valid by construction.
    init(unchecked rowCount: Int, _ columnCount: Int, _ rowPointers: [Int64], _ columnIndices: [Int32]) {
        self.rowCount = rowCount
        self.columnCount = columnCount
        self.rowPointers = rowPointers
        self.columnIndices = columnIndices
    }

    init(unchecked rowCount: Int, _ columnCount: Int, _ arrays: (rowPointers: [Int64], columnIndices: [Int32])) {
        self.init(unchecked: rowCount, columnCount, arrays.rowPointers, arrays.columnIndices)
    }

    /// Re-checks the invariants (useful after building one by hand).
    public func validate() throws {
        try Kernels.validateCSR(rows: rowCount, columns: columnCount, rowPointers: rowPointers,
                                columnIndices: columnIndices)
    }

    public var edgeCount: Int { columnIndices.count }
    public var isSquare: Bool { rowCount == columnCount }
    /// True when every row holds every column (the graph dense attention computes).
    public var isComplete: Bool { edgeCount == rowCount * columnCount }
    /// Mean number of edges per row.
    public var averageDegree: Double { Double(edgeCount) / Double(rowCount) }

    /// The columns row `row` attends to, ascending.
    public func neighbors(of row: Int) -> ArraySlice<Int32> {
        columnIndices[Int(rowPointers[row])..<Int(rowPointers[row + 1])]
    }

    public func degree(of row: Int) -> Int { Int(rowPointers[row + 1] - rowPointers[row]) }

    /// Whether the edge row → column exists (binary search in the row).
    public func contains(row: Int, column: Int) -> Bool {
        guard row >= 0, row < rowCount else { return false }
        let cols = neighbors(of: row)
        var lo = cols.startIndex, hi = cols.endIndex
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(cols[mid]) < column { lo = mid + 1 } else { hi = mid }
        }
        return lo < cols.endIndex && Int(cols[lo]) == column
    }

    public var description: String {
        "CSRGraph(\(rowCount)×\(columnCount), \(edgeCount) edges)"
    }

    // MARK: Construction

    /// Every row attends to every column. For square graphs `selfLoops: false` drops i → i.
    public static func complete(rows: Int, columns: Int, selfLoops: Bool = true) throws -> CSRGraph {
        try require(rows >= 1 && columns >= 1, "a complete graph needs at least one node on each side")
        try require(rows * columns <= Int(Int32.max) * 4, "a complete \(rows)×\(columns) graph is too large")
        let dropDiagonal = !selfLoops && rows == columns
        let perRow = dropDiagonal ? columns - 1 : columns
        var rowPointers = [Int64](repeating: 0, count: rows + 1)
        var cols = [Int32](repeating: 0, count: rows * perRow)
        cols.withUnsafeMutableBufferPointer { c in
            var e = 0
            for r in 0..<rows {
                for j in 0..<columns where !(dropDiagonal && j == r) {
                    c[e] = Int32(j)
                    e += 1
                }
                rowPointers[r + 1] = Int64(e)
            }
        }
        return CSRGraph(unchecked: rows, columns, rowPointers, cols)
    }

    /// From neighbour lists: row `i` attends to `lists[i]` (order and duplicates do not matter;
    /// negative entries are skipped).
    public init(columnCount: Int, neighborLists lists: [[Int32]]) throws {
        try require(!lists.isEmpty, "a graph needs at least one row")
        let k = lists.map(\.count).max() ?? 0
        var flat = [Int32](repeating: -1, count: lists.count * k)
        for (i, row) in lists.enumerated() {
            for (j, c) in row.enumerated() { flat[i * k + j] = c }
        }
        try self.init(columnCount: columnCount, rowCount: lists.count, k: k, flatNeighbors: flat)
    }

    /// From a row-major `rowCount × k` neighbour table (negative entries are skipped).
    init(columnCount: Int, rowCount: Int, k: Int, flatNeighbors: [Int32]) throws {
        try require(rowCount >= 1 && columnCount >= 1, "a graph needs at least one row and one column")
        if k == 0 {
            self.init(unchecked: rowCount, columnCount, [Int64](repeating: 0, count: rowCount + 1), [])
            return
        }
        self.init(unchecked: rowCount, columnCount,
                  try Kernels.csrFromNeighbors(rows: rowCount, columns: columnCount, indices: flatNeighbors, k: k))
    }

    /// From an edge list `(row, column)`; `symmetric` also adds every reverse edge.
    public init(rowCount: Int, columnCount: Int, edges: [(row: Int32, column: Int32)],
                symmetric: Bool = false) throws {
        try require(rowCount >= 1 && columnCount >= 1, "a graph needs at least one row and one column")
        self.init(unchecked: rowCount, columnCount,
                  try Kernels.csrFromEdges(rows: rowCount, columns: columnCount, sources: edges.map(\.row),
                                           targets: edges.map(\.column), symmetric: symmetric))
    }

    // MARK: Operations

    private func requireSameShape(_ other: CSRGraph, _ op: String) throws {
        guard rowCount == other.rowCount, columnCount == other.columnCount else {
            throw SparseGlueError.shapeMismatch(
                "\(op) needs graphs of one shape, got \(rowCount)×\(columnCount) and \(other.rowCount)×\(other.columnCount)")
        }
    }

    private func requireSquare(_ op: String) throws {
        guard isSquare else {
            throw SparseGlueError.shapeMismatch("\(op) needs a square graph, got \(rowCount)×\(columnCount)")
        }
    }

    /// Edges in either graph.
    public func union(_ other: CSRGraph, threads: Int = 0) throws -> CSRGraph {
        try requireSameShape(other, "union")
        return CSRGraph(unchecked: rowCount, columnCount, try Kernels.csrSetOperation(.union, self, other, threads: threads))
    }

    /// Edges in both graphs.
    public func intersection(_ other: CSRGraph, threads: Int = 0) throws -> CSRGraph {
        try requireSameShape(other, "intersection")
        return CSRGraph(unchecked: rowCount, columnCount,
                        try Kernels.csrSetOperation(.intersection, self, other, threads: threads))
    }

    /// Edges of `self` not in `other`.
    public func subtracting(_ other: CSRGraph, threads: Int = 0) throws -> CSRGraph {
        try requireSameShape(other, "difference")
        return CSRGraph(unchecked: rowCount, columnCount,
                        try Kernels.csrSetOperation(.difference, self, other, threads: threads))
    }

    /// The reversed graph (`columnCount × rowCount`).
    public func transposed() throws -> CSRGraph {
        CSRGraph(unchecked: columnCount, rowCount, try Kernels.csrTranspose(self))
    }

    /// `self ∪ selfᵀ`: j → i whenever i → j (square graphs).
    public func symmetrized(threads: Int = 0) throws -> CSRGraph {
        try requireSquare("symmetrize")
        return CSRGraph(unchecked: rowCount, columnCount, try Kernels.csrSymmetrize(self, threads: threads))
    }

    /// The graph with every i → i edge present (square graphs).
    public func addingSelfLoops(threads: Int = 0) throws -> CSRGraph {
        try requireSquare("adding self-loops")
        return CSRGraph(unchecked: rowCount, columnCount, try Kernels.csrSelfLoops(self, add: true, threads: threads))
    }

    /// The graph without i → i edges (square graphs).
    public func removingSelfLoops(threads: Int = 0) throws -> CSRGraph {
        try requireSquare("removing self-loops")
        return CSRGraph(unchecked: rowCount, columnCount, try Kernels.csrSelfLoops(self, add: false, threads: threads))
    }

    /// The `rowCount × columnCount` byte mask (1 on edges) masked-dense attention needs.
    /// Throws `.memoryBudgetExceeded` when the mask alone would pass `budgetBytes`.
    public func denseMask(budgetBytes: Int = 1 << 31) throws -> [UInt8] {
        let bytes = rowCount * columnCount
        guard bytes <= budgetBytes else {
            throw SparseGlueError.memoryBudgetExceeded(requiredBytes: bytes, budgetBytes: budgetBytes,
                                                       what: "a \(rowCount)×\(columnCount) attention mask")
        }
        return try Kernels.csrToMask(self)
    }
}
