// LightGlue's building blocks: keypoint normalisation, rotary positional encoding, the self and
// cross blocks, token confidence and matchability. Internal so tests can feed each block its
// traced input. Attention on a sparse graph (SparseLightGlue) goes through the same blocks.
import Foundation

extension LightGlue {
    /// `(kpts − size/2) / (max(w, h)/2)`, float32 as upstream.
    static func normalizeKeypoints(_ k: Matrix, width: Float, height: Float) -> Matrix {
        let sx = width / 2, sy = height / 2, scale = Swift.max(width, height) / 2
        var out = k
        out.values.withUnsafeMutableBufferPointer { p in
            for r in 0..<k.rows {
                p[2 * r] = (p[2 * r] - sx) / scale
                p[2 * r + 1] = (p[2 * r + 1] - sy) / scale
            }
        }
        return out
    }

    func inputProjection(_ desc: Matrix) throws -> Matrix {
        guard let p = weights.inputProj else { return desc }
        return try p(desc, threads: threads)
    }

    /// cos/sin of the learned Fourier phases `Wr·kpts` (n × dₕ/2 each); upstream repeats each
    /// twice along the head dimension.
    func rotaryTable(_ normalized: Matrix) throws -> RotaryTable {
        let phase = try weights.posencWr(normalized, threads: threads)
        return RotaryTable(cos: phase.values.map { Foundation.cos($0) }, sin: phase.values.map { Foundation.sin($0) },
                           half: phase.columns)
    }

    /// x·cos + rotate_half(x)·sin on each head, interleaved pairs (2k, 2k+1): the C kernel the
    /// dense path applies to its packed q | k, here on a separate matrix.
    static func applyRotary(_ x: inout Matrix, _ t: RotaryTable, threads: Int = 0) throws {
        try Kernels.lightGlueRotary(&x, width: x.columns, headDimension: 2 * t.half, cos: t.cos, sin: t.sin,
                                    threads: threads)
    }

    /// `graph` nil = complete graph (the published model), else sparse attention on its edges.
    func selfBlock(_ i: Int, _ x: Matrix, _ enc: RotaryTable, graph: CSRGraph? = nil) throws -> Matrix {
        let w = weights.selfBlocks[i]
        let context: Matrix
        if let graph {
            var q = try w.q(x, threads: threads), k = try w.k(x, threads: threads)
            let v = try w.v(x, threads: threads)
            try Self.applyRotary(&q, enc, threads: threads)
            try Self.applyRotary(&k, enc, threads: threads)
            context = try sparseSelfAttention(q, k, v, graph: graph)
        } else {
            // Dense: one n × 3d projection [q | k | v], rotary on q and k in place, attention on
            // the packed matrix (strided, no copies).
            var qkv = try Kernels.lightGlueLinear(x, w.qkv, threads: threads)
            let d = x.columns
            try Kernels.lightGlueRotary(&qkv, width: 2 * d, headDimension: d / configuration.heads,
                                        cos: enc.cos, sin: enc.sin, threads: threads)
            context = try Kernels.attentionDensePacked(qkv, heads: configuration.heads, threads: threads)
        }
        let message = try Kernels.lightGlueLinear(context, w.outProj, threads: threads)
        return try Kernels.lightGlueFFN(x, message, w.ffn, threads: threads)
    }

    /// LightGlue's cross block: with sim = qk0·qk1ᵀ/√dₕ per head, m0 = softmax_j(sim)·v1 and
    /// m1 = softmax_i(sim)ᵀ·v0 — here each direction as attention over the other image's qk (the
    /// same products, so the same result), then to_out and the FFN. `graphs` with a cross recipe:
    /// sparse cross-attention (SparseLightGlue); otherwise the published dense block.
    func crossBlock(_ i: Int, _ x0: Matrix, _ x1: Matrix, graphs: LightGlueLayerGraphs? = nil) throws -> (Matrix, Matrix) {
        let w = weights.crossBlocks[i]
        let m0: Matrix, m1: Matrix
        if let graphs, graphs.hasCross {
            let qk0 = try w.toQK(x0, threads: threads), qk1 = try w.toQK(x1, threads: threads)
            let v0 = try w.toV(x0, threads: threads), v1 = try w.toV(x1, threads: threads)
            (m0, m1) = try sparseCrossAttention(qk0, qk1, v0, v1, graphs: graphs)
        } else {
            // Dense: one n × 2d projection [qk | v] per image, then each direction as dense
            // attention on the packed matrices (strided, no copies). Sharing one similarity matrix
            // per head between the directions measured slower on CPU (docs/performance.md).
            let p0 = try Kernels.lightGlueLinear(x0, w.qkv, threads: threads)
            let p1 = try Kernels.lightGlueLinear(x1, w.qkv, threads: threads)
            let h = configuration.heads
            m0 = try Kernels.lightGlueCrossAttention(queries: p0, keys: p1, heads: h, threads: threads)
            m1 = try Kernels.lightGlueCrossAttention(queries: p1, keys: p0, heads: h, threads: threads)
        }
        let o0 = try Kernels.lightGlueLinear(m0, w.toOut, threads: threads)
        let o1 = try Kernels.lightGlueLinear(m1, w.toOut, threads: threads)
        return (try Kernels.lightGlueFFN(x0, o0, w.ffn, threads: threads),
                try Kernels.lightGlueFFN(x1, o1, w.ffn, threads: threads))
    }

    func layer(_ i: Int, _ x0: Matrix, _ x1: Matrix, _ e0: RotaryTable, _ e1: RotaryTable,
               graphs g: LightGlueLayerGraphs? = nil) throws -> (Matrix, Matrix) {
        try crossBlock(i, selfBlock(i, x0, e0, graph: g?.self0), selfBlock(i, x1, e1, graph: g?.self1), graphs: g)
    }

    /// sigmoid(token_confidence[i](x)).
    func tokenConfidence(_ i: Int, _ x: Matrix) throws -> [Float] {
        try weights.tokenConfidence[i](x, threads: threads).values.map { 1 / (1 + exp(-$0)) }
    }

    /// sigmoid(log_assignment[i].matchability(x)).
    func matchability(_ i: Int, _ x: Matrix) throws -> [Float] {
        try weights.assignment[i].matchability(x, threads: threads).values.map { 1 / (1 + exp(-$0)) }
    }
}

/// cos/sin of the positional phases, `half` = dₕ/2 per row.
struct RotaryTable: Sendable {
    var cos: [Float]
    var sin: [Float]
    let half: Int

    func gathered(_ rows: [Int]) throws -> RotaryTable {
        var c = [Float](), s = [Float]()
        c.reserveCapacity(rows.count * half)
        s.reserveCapacity(rows.count * half)
        for r in rows {
            c.append(contentsOf: cos[r * half..<(r + 1) * half])
            s.append(contentsOf: sin[r * half..<(r + 1) * half])
        }
        return RotaryTable(cos: c, sin: s, half: half)
    }
}
