// The only Swift file that touches the C module. Each C function gets one wrapper here that
// checks buffer sizes, calls through contiguous storage, and turns a status code into a typed
// `SparseGlueError` in `check`. The import is internal so users of SparseGlue never see C types.
internal import CKernels

enum Kernels {
    // MARK: BLAS policy

    /// SparseGlue runs OpenBLAS single-threaded and parallelises every GEMM itself, over fixed
    /// row blocks (CKernels/src/gemm.c) or (block, head) tasks (dense attention). Results then do
    /// not depend on any thread count, and OpenBLAS's threads never compete with OpenMP's for the
    /// cores. Set once, before the first BLAS call of the process that goes through SparseGlue.
    private static let singleThreadedBLAS: Void = { _ = sg_blas_set_num_threads(1) }()

    /// Called by every wrapper whose kernel calls BLAS.
    static func prepareBLAS() { _ = singleThreadedBLAS }

    // MARK: Status

    /// Translates a kernel status into a thrown error naming the C function.
    static func check(_ status: sg_status, _ function: String) throws {
        if status == SG_OK { return }
        let message = "\(function): " + String(cString: sg_status_string(status))
        switch status {
        case SG_ERR_SIZE, SG_ERR_ARGUMENT, SG_ERR_NULL: throw SparseGlueError.invalidArgument(message)
        case SG_ERR_SHAPE: throw SparseGlueError.shapeMismatch(message)
        case SG_ERR_NONFINITE: throw SparseGlueError.nonFiniteInput(message)
        case SG_ERR_GRAPH: throw SparseGlueError.malformedGraph(message)
        case SG_ERR_ALLOC: throw SparseGlueError.outOfMemory(message)
        default:
            throw SparseGlueError.kernelFailure(
                function: function, code: Int(status.rawValue), message: String(cString: sg_status_string(status)))
        }
    }

    static var version: String { String(cString: sg_version()) }

    // MARK: Threads

    static var maxThreads: Int { Int(sg_max_threads()) }

    /// Wraps sg_set_default_threads.
    static func setDefaultThreads(_ n: Int) throws {
        try require(n >= 1 && n <= Int(SG_MAX_THREADS), "thread count must be in 1...\(SG_MAX_THREADS), got \(n)")
        try check(sg_set_default_threads(Int32(n)), "sg_set_default_threads")
    }

    /// Wraps sg_blas_set_num_threads.
    static func setBLASThreads(_ n: Int) throws {
        try check(sg_blas_set_num_threads(Int32(clamping: n)), "sg_blas_set_num_threads")
    }

    static var blasThreads: Int { Int(sg_blas_num_threads()) }
    static var blasCoreName: String { String(cString: sg_blas_core_name()) }

    // MARK: Probes

    /// Wraps sg_stream_triad over caller-owned buffers of equal length.
    static func streamTriad(_ a: inout [Float], _ b: [Float], _ c: [Float], threads: Int) throws {
        precondition(a.count == b.count && b.count == c.count)
        let status = a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeBufferPointer { pc in
                    sg_stream_triad(pa.baseAddress, pb.baseAddress, pc.baseAddress, Int64(pa.count), 1.5, Int32(threads))
                }
            }
        }
        try check(status, "sg_stream_triad")
    }

    /// Wraps sg_probe_sgemm: one n×n×n sgemm on OpenBLAS's own threads.
    static func probeSGEMM(_ a: Matrix, _ b: Matrix, into out: inout Matrix, threads: Int) throws {
        prepareBLAS()
        let status = a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                out.values.withUnsafeMutableBufferPointer { pc in
                    sg_probe_sgemm(pa.baseAddress, pb.baseAddress, pc.baseAddress, Int64(a.rows), Int32(threads))
                }
            }
        }
        try check(status, "sg_probe_sgemm")
    }

    // MARK: Dense helpers

    /// Wraps sg_check_finite.
    static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { sg_check_finite($0.baseAddress, Int64($0.count)) == SG_OK }
    }

    /// Wraps sg_matmul: out = a · b (or a · bᵀ); shapes checked by the caller.
    static func matmul(_ a: Matrix, _ b: Matrix, transposeB: Bool, into out: inout Matrix, threads: Int = 0) throws {
        prepareBLAS()
        let k = a.columns
        let status = a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                out.values.withUnsafeMutableBufferPointer { pc in
                    sg_matmul(0, transposeB ? 1 : 0, Int64(out.rows), Int64(out.columns), Int64(k), 1,
                              pa.baseAddress, Int64(a.columns), pb.baseAddress, Int64(b.columns), 0,
                              pc.baseAddress, Int64(out.columns), Int32(threads))
                }
            }
        }
        try check(status, "sg_matmul")
    }

    /// Wraps sg_linear: x · weightᵀ + bias, weight stored outputs × inputs.
    static func linear(_ x: Matrix, weight: Matrix, bias: [Float]?, threads: Int = 0) throws -> Matrix {
        prepareBLAS()
        guard x.columns == weight.columns else {
            throw SparseGlueError.shapeMismatch(
                "linear layer expects \(weight.columns) input features, got \(x.columns)")
        }
        if let bias, bias.count != weight.rows {
            throw SparseGlueError.shapeMismatch("bias has \(bias.count) values for \(weight.rows) outputs")
        }
        var out = Matrix.zeros(x.rows, weight.rows)
        if x.rows == 0 { return out }
        let status = x.values.withUnsafeBufferPointer { px in
            weight.values.withUnsafeBufferPointer { pw in
                out.values.withUnsafeMutableBufferPointer { py in
                    withOptionalBuffer(bias) { pb in
                        sg_linear(px.baseAddress, Int64(x.rows), Int64(x.columns), Int64(x.columns),
                                  pw.baseAddress, pb, Int64(weight.rows), py.baseAddress, Int64(weight.rows),
                                  Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_linear")
        return out
    }

    /// Wraps sg_layer_norm (row-wise).
    static func layerNorm(_ x: Matrix, gamma: [Float]?, beta: [Float]?, epsilon: Float,
                          threads: Int) throws -> Matrix {
        for (name, p) in [("gamma", gamma), ("beta", beta)] {
            if let p, p.count != x.columns {
                throw SparseGlueError.shapeMismatch("layer norm \(name) has \(p.count) values for \(x.columns) features")
            }
        }
        var out = Matrix.zeros(x.rows, x.columns)
        if x.rows == 0 { return out }
        let status = x.values.withUnsafeBufferPointer { px in
            out.values.withUnsafeMutableBufferPointer { py in
                withOptionalBuffer(gamma) { pg in
                    withOptionalBuffer(beta) { pb in
                        sg_layer_norm(px.baseAddress, Int64(x.rows), Int64(x.columns), Int64(x.columns),
                                      pg, pb, epsilon, py.baseAddress, Int64(x.columns), Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_layer_norm")
        return out
    }

    /// Wraps sg_activate (in place).
    static func activate(_ x: inout Matrix, gelu: Bool, threads: Int) throws {
        if x.count == 0 { return }
        let status = x.values.withUnsafeMutableBufferPointer {
            sg_activate($0.baseAddress, Int64($0.count), gelu ? SG_ACT_GELU : SG_ACT_RELU, Int32(threads))
        }
        try check(status, "sg_activate")
    }

    /// Wraps sg_row_norms.
    static func rowNorms(_ x: Matrix) -> [Float] {
        var out = [Float](repeating: 0, count: x.rows)
        if x.rows == 0 || x.columns == 0 { return out }
        let status = x.values.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer {
                sg_row_norms(px.baseAddress, Int64(x.rows), Int64(x.columns), Int64(x.columns), $0.baseAddress)
            }
        }
        precondition(status == SG_OK, "sg_row_norms cannot fail on a well-formed matrix")
        return out
    }

    /// Wraps sg_orthogonal_fusion: (g1, |cos(f1, f2)| per row).
    static func orthogonalFusion(_ f1: Matrix, _ f2: Matrix, epsilon: Float,
                                 threads: Int) throws -> (g1: Matrix, absCos: [Float]) {
        guard f1.rows == f2.rows, f1.columns == f2.columns else {
            throw SparseGlueError.shapeMismatch(
                "fusion needs f1 and f2 of one shape, got \(f1.rows)×\(f1.columns) and \(f2.rows)×\(f2.columns)")
        }
        var g1 = Matrix.zeros(f1.rows, f1.columns)
        var absCos = [Float](repeating: 0, count: f1.rows)
        if f1.rows == 0 { return (g1, absCos) }
        let status = f1.values.withUnsafeBufferPointer { p1 in
            f2.values.withUnsafeBufferPointer { p2 in
                g1.values.withUnsafeMutableBufferPointer { pg in
                    absCos.withUnsafeMutableBufferPointer { pc in
                        sg_orthogonal_fusion(p1.baseAddress, p2.baseAddress, Int64(f1.rows), Int64(f1.columns),
                                             Int64(f1.columns), epsilon, pg.baseAddress, pc.baseAddress,
                                             Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_orthogonal_fusion")
        return (g1, absCos)
    }

    // MARK: k-NN

    enum Similarity { case dot, cosine }

    /// Wraps sg_knn_l2 (similarity == nil) or sg_topk_similarity: k best references per query row.
    static func nearest(queries: Matrix, references: Matrix, k: Int, similarity: Similarity?,
                        excludeDiagonal: Bool, threads: Int) throws -> (indices: [Int32], scores: [Float]) {
        prepareBLAS()
        var indices = [Int32](repeating: -1, count: queries.rows * k)
        var scores = [Float](repeating: 0, count: queries.rows * k)
        let status = queries.values.withUnsafeBufferPointer { pa in
            references.values.withUnsafeBufferPointer { pb in
                indices.withUnsafeMutableBufferPointer { pi in
                    scores.withUnsafeMutableBufferPointer { ps in
                        if let similarity {
                            return sg_topk_similarity(
                                pa.baseAddress, Int64(queries.rows), Int64(queries.columns),
                                pb.baseAddress, Int64(references.rows), Int64(references.columns),
                                Int64(queries.columns), Int64(k), similarity == .dot ? SG_SIM_DOT : SG_SIM_COSINE,
                                excludeDiagonal ? 1 : 0,
                                pi.baseAddress, ps.baseAddress, Int32(threads))
                        }
                        return sg_knn_l2(
                            pa.baseAddress, Int64(queries.rows), Int64(queries.columns),
                            pb.baseAddress, Int64(references.rows), Int64(references.columns),
                            Int64(queries.columns), Int64(k), excludeDiagonal ? 1 : 0,
                            pi.baseAddress, ps.baseAddress, Int32(threads))
                    }
                }
            }
        }
        try check(status, similarity == nil ? "sg_knn_l2" : "sg_topk_similarity")
        return (indices, scores)
    }

    // MARK: CSR

    /// Wraps sg_csr_validate.
    static func validateCSR(rows: Int, columns: Int, rowPointers: [Int64], columnIndices: [Int32]) throws {
        guard rowPointers.count == rows + 1 else {
            throw SparseGlueError.malformedGraph(
                "\(rowPointers.count) row pointers for \(rows) rows (need \(rows + 1))")
        }
        guard let last = rowPointers.last, last == Int64(columnIndices.count) else {
            throw SparseGlueError.malformedGraph(
                "last row pointer \(rowPointers.last ?? -1) differs from the \(columnIndices.count) column indices")
        }
        let status = rowPointers.withUnsafeBufferPointer { rp in
            columnIndices.withUnsafeBufferPointer { ci in
                sg_csr_validate(Int64(rows), Int64(columns), rp.baseAddress, ci.baseAddress ?? emptyIndex)
            }
        }
        try check(status, "sg_csr_validate")
    }

    /// Runs a graph-producing kernel: allocates the documented capacity, trims to the result.
    private static func produceGraph(
        rows: Int, capacity: Int, _ function: String,
        _ body: (UnsafeMutablePointer<Int64>, UnsafeMutablePointer<Int32>, Int64,
                 UnsafeMutablePointer<Int64>) -> sg_status
    ) throws -> (rowPointers: [Int64], columnIndices: [Int32]) {
        var rowPointers = [Int64](repeating: 0, count: rows + 1)
        var columns = [Int32](repeating: 0, count: max(capacity, 1))
        var nnz: Int64 = 0
        let status = rowPointers.withUnsafeMutableBufferPointer { rp in
            columns.withUnsafeMutableBufferPointer { ci in
                body(rp.baseAddress!, ci.baseAddress!, Int64(capacity), &nnz)
            }
        }
        try check(status, function)
        columns.removeLast(columns.count - Int(nnz))
        return (rowPointers, columns)
    }

    /// Wraps sg_csr_from_neighbors.
    static func csrFromNeighbors(rows: Int, columns: Int, indices: [Int32], k: Int)
        throws -> (rowPointers: [Int64], columnIndices: [Int32]) {
        precondition(indices.count == rows * k)
        return try indices.withUnsafeBufferPointer { pi in
            try produceGraph(rows: rows, capacity: rows * k, "sg_csr_from_neighbors") { rp, ci, cap, nnz in
                sg_csr_from_neighbors(Int64(rows), Int64(columns), pi.baseAddress ?? emptyIndex, Int64(k),
                                      Int64(k), rp, ci, cap, nnz)
            }
        }
    }

    /// Wraps sg_csr_from_edges.
    static func csrFromEdges(rows: Int, columns: Int, sources: [Int32], targets: [Int32], symmetric: Bool)
        throws -> (rowPointers: [Int64], columnIndices: [Int32]) {
        precondition(sources.count == targets.count)
        return try sources.withUnsafeBufferPointer { ps in
            try targets.withUnsafeBufferPointer { pt in
                try produceGraph(rows: rows, capacity: sources.count * (symmetric ? 2 : 1),
                                 "sg_csr_from_edges") { rp, ci, cap, nnz in
                    sg_csr_from_edges(Int64(rows), Int64(columns), ps.baseAddress ?? emptyIndex,
                                      pt.baseAddress ?? emptyIndex, Int64(sources.count), symmetric ? 1 : 0,
                                      rp, ci, cap, nnz)
                }
            }
        }
    }

    /// Wraps sg_csr_transpose.
    static func csrTranspose(_ g: CSRGraph) throws -> (rowPointers: [Int64], columnIndices: [Int32]) {
        try withGraph(g) { rp, ci in
            try produceGraph(rows: g.columnCount, capacity: g.edgeCount, "sg_csr_transpose") { orp, oci, cap, nnz in
                sg_csr_transpose(Int64(g.rowCount), Int64(g.columnCount), rp, ci, orp, oci, cap, nnz)
            }
        }
    }

    /// Wraps sg_csr_symmetrize.
    static func csrSymmetrize(_ g: CSRGraph, threads: Int) throws -> (rowPointers: [Int64], columnIndices: [Int32]) {
        try withGraph(g) { rp, ci in
            try produceGraph(rows: g.rowCount, capacity: 2 * g.edgeCount, "sg_csr_symmetrize") { orp, oci, cap, nnz in
                sg_csr_symmetrize(Int64(g.rowCount), rp, ci, orp, oci, cap, nnz, Int32(threads))
            }
        }
    }

    enum SetOperation { case union, intersection, difference }

    /// Wraps sg_csr_set_op.
    static func csrSetOperation(_ op: SetOperation, _ a: CSRGraph, _ b: CSRGraph, threads: Int)
        throws -> (rowPointers: [Int64], columnIndices: [Int32]) {
        let (code, capacity): (sg_set_op, Int) = switch op {
        case .union: (SG_SET_UNION, a.edgeCount + b.edgeCount)
        case .intersection: (SG_SET_INTERSECTION, min(a.edgeCount, b.edgeCount))
        case .difference: (SG_SET_DIFFERENCE, a.edgeCount)
        }
        return try withGraph(a) { arp, aci in
            try withGraph(b) { brp, bci in
                try produceGraph(rows: a.rowCount, capacity: capacity, "sg_csr_set_op") { orp, oci, cap, nnz in
                    sg_csr_set_op(code, Int64(a.rowCount), Int64(a.columnCount), arp, aci, brp, bci,
                                  orp, oci, cap, nnz, Int32(threads))
                }
            }
        }
    }

    /// Wraps sg_csr_self_loops.
    static func csrSelfLoops(_ g: CSRGraph, add: Bool, threads: Int) throws -> (rowPointers: [Int64], columnIndices: [Int32]) {
        try withGraph(g) { rp, ci in
            try produceGraph(rows: g.rowCount, capacity: g.edgeCount + (add ? g.rowCount : 0),
                             "sg_csr_self_loops") { orp, oci, cap, nnz in
                sg_csr_self_loops(Int64(g.rowCount), rp, ci, add ? 1 : 0, orp, oci, cap, nnz, Int32(threads))
            }
        }
    }

    /// Wraps sg_csr_to_mask: an n × m byte mask, 1 on edges.
    static func csrToMask(_ g: CSRGraph) throws -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: g.rowCount * g.columnCount)
        let status = try withGraph(g) { rp, ci in
            mask.withUnsafeMutableBufferPointer {
                sg_csr_to_mask(Int64(g.rowCount), Int64(g.columnCount), rp, ci, $0.baseAddress, Int64(g.columnCount))
            }
        }
        try check(status, "sg_csr_to_mask")
        return mask
    }

    private static func withGraph<R>(
        _ g: CSRGraph, _ body: (UnsafePointer<Int64>, UnsafePointer<Int32>) throws -> R
    ) throws -> R {
        try g.rowPointers.withUnsafeBufferPointer { rp in
            try g.columnIndices.withUnsafeBufferPointer { ci in
                try body(rp.baseAddress!, ci.baseAddress ?? emptyIndex)
            }
        }
    }

    // MARK: Graph constructions

    /// Wraps sg_partition_equal.
    static func partitionEqual(_ points: Matrix, groups: Int) throws -> [Int32] {
        var out = [Int32](repeating: -1, count: points.rows)
        let status = points.values.withUnsafeBufferPointer { pp in
            out.withUnsafeMutableBufferPointer {
                sg_partition_equal(pp.baseAddress, Int64(points.rows), Int64(points.columns),
                                   Int64(points.columns), Int64(groups), $0.baseAddress)
            }
        }
        try check(status, "sg_partition_equal")
        return out
    }

    /// Wraps sg_mst_euclidean.
    static func minimumSpanningTree(_ points: Matrix, threads: Int) throws -> (parents: [Int32], lengths: [Float]) {
        var parents = [Int32](repeating: -1, count: points.rows)
        var lengths = [Float](repeating: 0, count: points.rows)
        let status = points.values.withUnsafeBufferPointer { pp in
            parents.withUnsafeMutableBufferPointer { pa in
                lengths.withUnsafeMutableBufferPointer { pl in
                    sg_mst_euclidean(pp.baseAddress, Int64(points.rows), Int64(points.columns),
                                     Int64(points.columns), pa.baseAddress, pl.baseAddress, Int32(threads))
                }
            }
        }
        try check(status, "sg_mst_euclidean")
        return (parents, lengths)
    }

    /// Wraps sg_diverse_neighbors.
    static func diverseNeighbors(features: Matrix, useOffsets: Bool, candidates: [Int32], distances: [Float],
                                 candidateCount: Int, k: Int, alpha: Float, beta: Float,
                                 threads: Int) throws -> [Int32] {
        precondition(candidates.count == features.rows * candidateCount && distances.count == candidates.count)
        var out = [Int32](repeating: -1, count: features.rows * k)
        let status = features.values.withUnsafeBufferPointer { pf in
            candidates.withUnsafeBufferPointer { pc in
                distances.withUnsafeBufferPointer { pd in
                    out.withUnsafeMutableBufferPointer { po in
                        sg_diverse_neighbors(pf.baseAddress, Int64(features.rows), Int64(features.columns),
                                             Int64(features.columns), useOffsets ? 1 : 0, pc.baseAddress,
                                             pd.baseAddress, Int64(candidateCount), Int64(candidateCount),
                                             Int64(k), alpha, beta, po.baseAddress, Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_diverse_neighbors")
        return out
    }

    // MARK: Node ordering

    /// Wraps sg_space_filling_order: a Hilbert-curve permutation of 2-D points (x, y in the first
    /// two columns).
    static func spaceFillingOrder(_ points: Matrix) throws -> [Int32] {
        var out = [Int32](repeating: -1, count: max(points.rows, 1))
        let status = points.values.withUnsafeBufferPointer { pp in
            out.withUnsafeMutableBufferPointer {
                sg_space_filling_order(pp.baseAddress, Int64(points.rows), Int64(points.columns), $0.baseAddress)
            }
        }
        try check(status, "sg_space_filling_order")
        return out
    }

    // MARK: Attention

    /// Wraps sg_attention_sparse; returns the output and, when asked, per-edge weights (E × heads).
    static func attentionSparse(q: Matrix, k: Matrix, v: Matrix, heads: Int, scale: Float, graph: CSRGraph,
                                returnWeights: Bool, threads: Int) throws -> (Matrix, [Float]?) {
        // The kernel writes every output value (rows without edges get zeros), so the output is not
        // zero-filled first: at n = 2048, d = 256 that serial fill was about 4% of the call.
        var out = Matrix(uncheckedRows: q.rows, columns: q.columns,
                         values: [Float](unsafeUninitializedCapacity: q.rows * q.columns) { _, count in
                             count = q.rows * q.columns
                         })
        var weights = returnWeights ? [Float](repeating: 0, count: graph.edgeCount * heads) : nil
        let status = try withGraph(graph) { rp, ci in
            q.values.withUnsafeBufferPointer { pq in
                k.values.withUnsafeBufferPointer { pk in
                    v.values.withUnsafeBufferPointer { pv in
                        out.values.withUnsafeMutableBufferPointer { po in
                            withOptionalMutableBuffer(&weights) { pw in
                                sg_attention_sparse(pq.baseAddress, Int64(q.rows), Int64(q.columns),
                                                    pk.baseAddress, Int64(k.columns), pv.baseAddress,
                                                    Int64(v.columns), Int64(k.rows), Int64(q.columns),
                                                    Int64(heads), scale, rp, ci, po.baseAddress,
                                                    Int64(q.columns), pw, Int32(threads))
                            }
                        }
                    }
                }
            }
        }
        try check(status, "sg_attention_sparse")
        return (out, weights)
    }

    /// Wraps sg_attention_dense.
    static func attentionDense(q: Matrix, k: Matrix, v: Matrix, heads: Int, scale: Float,
                               threads: Int) throws -> Matrix {
        prepareBLAS()
        var out = Matrix.zeros(q.rows, q.columns)
        let status = q.values.withUnsafeBufferPointer { pq in
            k.values.withUnsafeBufferPointer { pk in
                v.values.withUnsafeBufferPointer { pv in
                    out.values.withUnsafeMutableBufferPointer { po in
                        sg_attention_dense(pq.baseAddress, Int64(q.rows), Int64(q.columns), pk.baseAddress,
                                           Int64(k.columns), pv.baseAddress, Int64(v.columns), Int64(k.rows),
                                           Int64(q.columns), Int64(heads), scale, po.baseAddress,
                                           Int64(q.columns), Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_attention_dense")
        return out
    }

    /// Wraps sg_attention_masked with an n × m byte mask.
    static func attentionMasked(q: Matrix, k: Matrix, v: Matrix, heads: Int, scale: Float, mask: [UInt8],
                                threads: Int) throws -> Matrix {
        prepareBLAS()
        precondition(mask.count == q.rows * k.rows)
        var out = Matrix.zeros(q.rows, q.columns)
        let status = q.values.withUnsafeBufferPointer { pq in
            k.values.withUnsafeBufferPointer { pk in
                v.values.withUnsafeBufferPointer { pv in
                    mask.withUnsafeBufferPointer { pm in
                        out.values.withUnsafeMutableBufferPointer { po in
                            sg_attention_masked(pq.baseAddress, Int64(q.rows), Int64(q.columns), pk.baseAddress,
                                                Int64(k.columns), pv.baseAddress, Int64(v.columns), Int64(k.rows),
                                                Int64(q.columns), Int64(heads), scale, pm.baseAddress,
                                                Int64(k.rows), po.baseAddress, Int64(q.columns), Int32(threads))
                        }
                    }
                }
            }
        }
        try check(status, "sg_attention_masked")
        return out
    }

    // MARK: Buffer helpers

    /// A valid pointer for empty index arrays (kernels reject NULL even when nothing is read).
    nonisolated(unsafe) private static let emptyIndex = UnsafePointer(UnsafeMutablePointer<Int32>.allocate(capacity: 1))

    private static func withOptionalBuffer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let values else { return body(nil) }
        return values.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    private static func withOptionalMutableBuffer<R>(
        _ values: inout [Float]?, _ body: (UnsafeMutablePointer<Float>?) -> R
    ) -> R {
        guard values != nil else { return body(nil) }
        return values!.withUnsafeMutableBufferPointer { body($0.baseAddress) }
    }
}
