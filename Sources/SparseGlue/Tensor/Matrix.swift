/// A dense, row-major `Float` matrix: `rows × columns` values in one contiguous array.
///
/// Rows are the items (keypoints, nodes) and columns their features, the layout every kernel
/// expects. Construction checks the shape; arithmetic that is more than a loop over the storage
/// goes to BLAS or the C kernels. `==` is exact equality; use `maxAbsoluteDifference(_:)` for
/// tolerances.
public struct Matrix: Sendable, Equatable, CustomStringConvertible {
    public let rows: Int
    public let columns: Int
    /// Row-major values: element (r, c) is `values[r * columns + c]`.
    public internal(set) var values: [Float]

    /// A matrix filled with `value`.
    public init(rows: Int, columns: Int, repeating value: Float = 0) throws {
        try require(rows >= 0 && columns >= 0, "matrix shape \(rows)×\(columns) is negative")
        self.rows = rows
        self.columns = columns
        self.values = [Float](repeating: value, count: rows * columns)
    }

    /// A matrix over `values` (row-major). Throws unless `values.count == rows * columns`.
    public init(rows: Int, columns: Int, values: [Float]) throws {
        try require(rows >= 0 && columns >= 0, "matrix shape \(rows)×\(columns) is negative")
        guard values.count == rows * columns else {
            throw SparseGlueError.shapeMismatch(
                "\(values.count) values cannot fill a \(rows)×\(columns) matrix")
        }
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A matrix from equal-length rows.
    public init(rowArrays: [[Float]]) throws {
        let columns = rowArrays.first?.count ?? 0
        guard rowArrays.allSatisfy({ $0.count == columns }) else {
            throw SparseGlueError.shapeMismatch("rows of a matrix must have equal lengths")
        }
        try self.init(rows: rowArrays.count, columns: columns, values: rowArrays.flatMap { $0 })
    }

    /// For kernels' outputs whose size is known to be right.
    init(uncheckedRows rows: Int, columns: Int, values: [Float]) {
        assert(values.count == rows * columns)
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    /// A `rows × columns` matrix of zeros (cannot fail for non-negative sizes).
    static func zeros(_ rows: Int, _ columns: Int) -> Matrix {
        Matrix(uncheckedRows: rows, columns: columns,
               values: [Float](repeating: 0, count: rows * columns))
    }

    public var count: Int { rows * columns }
    public var shape: (rows: Int, columns: Int) { (rows, columns) }

    public subscript(row: Int, column: Int) -> Float {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    /// The values of one row.
    public func row(_ index: Int) -> ArraySlice<Float> {
        values[(index * columns)..<((index + 1) * columns)]
    }

    /// Rows `indices` gathered into a new matrix.
    public func gatheringRows(_ indices: [Int]) throws -> Matrix {
        var out = [Float]()
        out.reserveCapacity(indices.count * columns)
        for i in indices {
            try require(i >= 0 && i < rows, "row index \(i) outside 0..<\(rows)")
            out.append(contentsOf: row(i))
        }
        return Matrix(uncheckedRows: indices.count, columns: columns, values: out)
    }

    /// Columns `range` of every row (e.g. one head's slice).
    public func columns(_ range: Range<Int>) throws -> Matrix {
        try require(range.lowerBound >= 0 && range.upperBound <= columns,
                    "column range \(range) outside 0..<\(columns)")
        var out = [Float]()
        out.reserveCapacity(rows * range.count)
        for r in 0..<rows {
            out.append(contentsOf: values[(r * columns + range.lowerBound)..<(r * columns + range.upperBound)])
        }
        return Matrix(uncheckedRows: rows, columns: range.count, values: out)
    }

    /// True when no value is NaN or ±Inf.
    public var isFinite: Bool { Kernels.allFinite(values) }

    /// Throws `.nonFiniteInput` naming `what` when a value is NaN or ±Inf.
    public func checkFinite(_ what: String) throws {
        if !isFinite { throw SparseGlueError.nonFiniteInput("\(what) contains NaN or Inf") }
    }

    /// `self · other` (or `self · otherᵀ`) through BLAS.
    public func matmul(_ other: Matrix, transposingOther: Bool = false, threads: Int = 0) throws -> Matrix {
        let inner = transposingOther ? other.columns : other.rows
        let outColumns = transposingOther ? other.rows : other.columns
        guard columns == inner else {
            throw SparseGlueError.shapeMismatch(
                "cannot multiply \(rows)×\(columns) by \(other.rows)×\(other.columns)\(transposingOther ? "ᵀ" : "")")
        }
        var out = Matrix.zeros(rows, outColumns)
        if rows == 0 || outColumns == 0 || inner == 0 { return out }
        try Kernels.matmul(self, other, transposeB: transposingOther, into: &out, threads: threads)
        return out
    }

    /// Element-wise sum.
    public static func + (lhs: Matrix, rhs: Matrix) throws -> Matrix {
        guard lhs.rows == rhs.rows, lhs.columns == rhs.columns else {
            throw SparseGlueError.shapeMismatch(
                "cannot add \(lhs.rows)×\(lhs.columns) and \(rhs.rows)×\(rhs.columns)")
        }
        var out = lhs
        out.values.withUnsafeMutableBufferPointer { o in
            rhs.values.withUnsafeBufferPointer { r in
                for i in 0..<o.count { o[i] += r[i] }
            }
        }
        return out
    }

    /// `[self ‖ other]`: the features of both, row by row (rows must match).
    public func concatenatingColumns(_ other: Matrix) throws -> Matrix {
        guard rows == other.rows else {
            throw SparseGlueError.shapeMismatch(
                "cannot concatenate \(rows) rows with \(other.rows) rows")
        }
        let width = columns + other.columns
        var out = [Float](repeating: 0, count: rows * width)
        out.withUnsafeMutableBufferPointer { o in
            values.withUnsafeBufferPointer { a in
                other.values.withUnsafeBufferPointer { b in
                    for r in 0..<rows {
                        let dst = o.baseAddress! + r * width
                        if columns > 0 { dst.update(from: a.baseAddress! + r * columns, count: columns) }
                        if other.columns > 0 {
                            (dst + columns).update(from: b.baseAddress! + r * other.columns, count: other.columns)
                        }
                    }
                }
            }
        }
        return Matrix(uncheckedRows: rows, columns: width, values: out)
    }

    /// The Euclidean norm of every row.
    public func rowNorms() -> [Float] { Kernels.rowNorms(self) }

    /// max |self − other| over all elements (shapes must match).
    public func maxAbsoluteDifference(_ other: Matrix) throws -> Float {
        guard rows == other.rows, columns == other.columns else {
            throw SparseGlueError.shapeMismatch("cannot compare \(rows)×\(columns) with \(other.rows)×\(other.columns)")
        }
        var m: Float = 0
        for i in 0..<values.count { m = Swift.max(m, abs(values[i] - other.values[i])) }
        return m
    }

    /// max |value|.
    public var maxAbsoluteValue: Float { values.reduce(0) { Swift.max($0, abs($1)) } }

    public var description: String { "Matrix(\(rows)×\(columns))" }
}

extension Matrix {
    /// A matrix with independent N(0, std²) entries from a seeded generator.
    public static func gaussian(rows: Int, columns: Int, standardDeviation: Float = 1,
                                using generator: inout SeededGenerator) throws -> Matrix {
        try require(rows >= 0 && columns >= 0, "matrix shape \(rows)×\(columns) is negative")
        var v = [Float](repeating: 0, count: rows * columns)
        for i in 0..<v.count { v[i] = generator.nextGaussian() * standardDeviation }
        return Matrix(uncheckedRows: rows, columns: columns, values: v)
    }

    /// A matrix with independent U(low, high) entries from a seeded generator.
    public static func uniform(rows: Int, columns: Int, in range: ClosedRange<Float>,
                               using generator: inout SeededGenerator) throws -> Matrix {
        try require(rows >= 0 && columns >= 0, "matrix shape \(rows)×\(columns) is negative")
        var v = [Float](repeating: 0, count: rows * columns)
        for i in 0..<v.count { v[i] = generator.nextFloat(in: range) }
        return Matrix(uncheckedRows: rows, columns: columns, values: v)
    }
}
