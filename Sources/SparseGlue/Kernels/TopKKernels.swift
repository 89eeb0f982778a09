// Wrapper of the fast row top-k kernel (CKernels/src/topk_rows.c). Like Kernels.swift: sizes are
// checked here, C is called through contiguous storage, statuses become typed errors.
internal import CKernels

extension Kernels {
    /// Wraps sg_topk_dot_rows: for every row i of `queries`, the `k` rows j of `references` with the
    /// largest float dot product ⟨queries_i[columns], references_j[columns]⟩ (both restricted to the
    /// same column range, read in place through the row stride, no copy), best first, ties to the
    /// lower j. Returns `queries.rows × k` indices and their float GEMM scores.
    ///
    /// Ranked by float GEMM scores, not exact ones: pairs whose exact dot products differ by less
    /// than float rounding may come out in either order (use `nearest` for exact ranking).
    static func topKDotRows(_ queries: Matrix, _ references: Matrix, columns: Range<Int>? = nil, k: Int,
                            threads: Int) throws -> (indices: [Int32], scores: [Float]) {
        prepareBLAS()
        let cols = columns ?? 0..<queries.columns
        guard queries.columns == references.columns else {
            throw SparseGlueError.shapeMismatch(
                "top-k: queries have \(queries.columns) columns, references \(references.columns)")
        }
        guard cols.lowerBound >= 0, cols.upperBound <= queries.columns, !cols.isEmpty else {
            throw SparseGlueError.shapeMismatch("top-k: column range \(cols) outside 0..<\(queries.columns) or empty")
        }
        guard queries.rows >= 1, references.rows >= 1 else {
            throw SparseGlueError.invalidArgument(
                "top-k needs at least one query and one reference, got \(queries.rows) and \(references.rows)")
        }
        guard k >= 1, k <= references.rows else {
            throw SparseGlueError.invalidArgument("top-k: k = \(k) must be in 1...\(references.rows)")
        }
        let n = queries.rows
        var indices = [Int32](repeating: -1, count: n * k)
        var scores = [Float](repeating: 0, count: n * k)
        let status = queries.values.withUnsafeBufferPointer { pa in
            references.values.withUnsafeBufferPointer { pb in
                indices.withUnsafeMutableBufferPointer { pi in
                    scores.withUnsafeMutableBufferPointer { ps in
                        sg_topk_dot_rows(pa.baseAddress! + cols.lowerBound, Int64(n), Int64(queries.columns),
                                         pb.baseAddress! + cols.lowerBound, Int64(references.rows),
                                         Int64(references.columns), Int64(cols.count), Int64(k),
                                         pi.baseAddress, ps.baseAddress, Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_topk_dot_rows")
        return (indices, scores)
    }
}
