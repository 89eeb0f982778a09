// Wrappers of the LightGlue-specific kernels (CKernels/src/lightglue.c). Like Kernels.swift: sizes
// are checked here, C is called through contiguous storage, statuses become typed errors.
internal import CKernels

extension Kernels {
    /// In place interleaved rotary encoding of columns 0..<width of `x` (chunks of
    /// `headDimension`), with row i's phases `cos` / `sin` (rows × headDimension/2 each).
    static func lightGlueRotary(_ x: inout Matrix, width: Int, headDimension dh: Int, cos: [Float], sin: [Float],
                                threads: Int) throws {
        guard dh >= 2, dh % 2 == 0, width % dh == 0, width <= x.columns,
              cos.count == x.rows * (dh / 2), sin.count == cos.count else {
            throw SparseGlueError.shapeMismatch(
                "rotary: \(x.rows)×\(x.columns) input, width \(width), head dim \(dh), \(cos.count) phases")
        }
        if x.rows == 0 || width == 0 { return }
        let rows = x.rows, ld = x.columns
        let status = x.values.withUnsafeMutableBufferPointer { px in
            cos.withUnsafeBufferPointer { pc in
                sin.withUnsafeBufferPointer { ps in
                    sg_lightglue_rotary(px.baseAddress, Int64(rows), Int64(width), Int64(ld), Int64(dh),
                                        pc.baseAddress, ps.baseAddress, Int64(dh / 2), Int32(threads))
                }
            }
        }
        try check(status, "sg_lightglue_rotary")
    }

    /// Dense multi-head attention on a packed `n × 3d` matrix [Q | K | V] (d = width / 3).
    static func attentionDensePacked(_ qkv: Matrix, heads: Int, threads: Int) throws -> Matrix {
        prepareBLAS()
        guard qkv.columns % 3 == 0, heads >= 1, (qkv.columns / 3) % heads == 0, qkv.rows >= 1 else {
            throw SparseGlueError.shapeMismatch(
                "packed attention needs n × 3d with heads dividing d, got \(qkv.rows)×\(qkv.columns)")
        }
        let d = qkv.columns / 3, ld = Int64(qkv.columns), n = Int64(qkv.rows)
        let scale = 1 / Float(d / heads).squareRoot()
        let (out, status) = uninitializedMatrix(qkv.rows, d) { po in
            qkv.values.withUnsafeBufferPointer { p in
                let base = p.baseAddress!
                return sg_attention_dense(base, n, ld, base + d, ld, base + 2 * d, ld, n,
                                          Int64(d), Int64(heads), scale, po, Int64(d), Int32(threads))
            }
        }
        try check(status, "sg_attention_dense")
        return out
    }

    /// One direction of LightGlue's cross attention on packed `n × 2d` matrices [QK | V]: the
    /// queries' qk (`queries`, columns 0..<d) attend over the other image's qk and v (`keys`):
    /// m = attention(qk_q, qk_k, v_k), one dense attention call on strided views.
    static func lightGlueCrossAttention(queries pq: Matrix, keys pk: Matrix, heads: Int, threads: Int) throws -> Matrix {
        prepareBLAS()
        guard pq.columns == pk.columns, pq.columns % 2 == 0, heads >= 1, (pq.columns / 2) % heads == 0,
              pq.rows >= 1, pk.rows >= 1 else {
            throw SparseGlueError.shapeMismatch(
                "cross attention needs n0 × 2d and n1 × 2d with heads dividing d, got \(pq.rows)×\(pq.columns), \(pk.rows)×\(pk.columns)")
        }
        let d = pq.columns / 2, ld = Int64(pq.columns)
        let scale = 1 / Float(d / heads).squareRoot()
        let (out, status) = uninitializedMatrix(pq.rows, d) { o in
            pq.values.withUnsafeBufferPointer { a in
                pk.values.withUnsafeBufferPointer { b in
                    let q = a.baseAddress!, k = b.baseAddress!
                    return sg_attention_dense(q, Int64(pq.rows), ld, k, ld, k + d, ld, Int64(pk.rows), Int64(d),
                                              Int64(heads), scale, o, Int64(d), Int32(threads))
                }
            }
        }
        try check(status, "sg_attention_dense")
        return out
    }

    /// x + ffn([x | message]) for LightGlue's FFN (Linear 2d→h, LayerNorm, GELU, Linear h→d), fused.
    static func lightGlueFFN(_ x: Matrix, _ message: Matrix, _ ffn: MLP, threads: Int) throws -> Matrix {
        prepareBLAS()
        let d = x.columns
        guard ffn.layers.count == 2, ffn.norms.count == 1, ffn.activation == .gelu,
              message.rows == x.rows, message.columns == d, ffn.layers[0].inputs == 2 * d,
              ffn.layers[1].inputs == ffn.layers[0].outputs, ffn.layers[1].outputs == d,
              let b1 = ffn.layers[0].bias, let b2 = ffn.layers[1].bias else {
            throw SparseGlueError.shapeMismatch(
                "LightGlue FFN expects Linear(2d→h), LayerNorm, GELU, Linear(h→d) with biases")
        }
        if x.rows == 0 { return x }
        let w1 = ffn.layers[0].weight, w2 = ffn.layers[1].weight, norm = ffn.norms[0]
        let n = Int64(x.rows), hidden = Int64(w1.rows)
        let (out, status) = uninitializedMatrix(x.rows, d) { po in
            x.values.withUnsafeBufferPointer { px in
                message.values.withUnsafeBufferPointer { pm in
                    w1.values.withUnsafeBufferPointer { pw1 in
                        w2.values.withUnsafeBufferPointer { pw2 in
                            b1.withUnsafeBufferPointer { pb1 in
                                b2.withUnsafeBufferPointer { pb2 in
                                    norm.gamma.withUnsafeBufferPointer { pg in
                                        norm.beta.withUnsafeBufferPointer { pb in
                                            sg_lightglue_ffn(px.baseAddress, Int64(d), pm.baseAddress, Int64(d), n,
                                                             Int64(d), pw1.baseAddress, pb1.baseAddress, hidden,
                                                             pg.baseAddress, pb.baseAddress, norm.epsilon,
                                                             pw2.baseAddress, pb2.baseAddress, po,
                                                             Int64(d), Int32(threads))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        try check(status, "sg_lightglue_ffn")
        return out
    }

    /// LightGlue's log assignment (n + 1) × (m + 1) from the similarity (n × m) and matchability
    /// logits z0 (n), z1 (m).
    static func lightGlueLogDoubleSoftmax(_ sim: Matrix, _ z0: [Float], _ z1: [Float], threads: Int) throws -> Matrix {
        guard z0.count == sim.rows, z1.count == sim.columns, sim.rows >= 1, sim.columns >= 1 else {
            throw SparseGlueError.shapeMismatch(
                "log double softmax: \(sim.rows)×\(sim.columns) similarity with \(z0.count) and \(z1.count) logits")
        }
        let n = sim.rows, m = sim.columns
        var out = Matrix.zeros(n + 1, m + 1)
        let status = sim.values.withUnsafeBufferPointer { ps in
            z0.withUnsafeBufferPointer { p0 in
                z1.withUnsafeBufferPointer { p1 in
                    out.values.withUnsafeMutableBufferPointer { po in
                        sg_lightglue_log_double_softmax(ps.baseAddress, Int64(n), Int64(m), Int64(m), p0.baseAddress,
                                                        p1.baseAddress, po.baseAddress, Int64(m + 1), Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_lightglue_log_double_softmax")
        return out
    }

    /// x · Wᵀ + b for a LightGlue projection (sg_lightglue_linear: sg_linear's blocks, one
    /// parallel region).
    static func lightGlueLinear(_ x: Matrix, _ layer: Linear, threads: Int) throws -> Matrix {
        prepareBLAS()
        let w = layer.weight
        guard x.columns == w.columns, let bias = layer.bias else {
            throw SparseGlueError.shapeMismatch("linear layer expects \(w.columns) input features and a bias, got \(x.columns)")
        }
        if x.rows == 0 { return Matrix.zeros(0, w.rows) }
        let (out, status) = uninitializedMatrix(x.rows, w.rows) { py in
            x.values.withUnsafeBufferPointer { px in
                w.values.withUnsafeBufferPointer { pw in
                    bias.withUnsafeBufferPointer { pb in
                        sg_lightglue_linear(px.baseAddress, Int64(x.rows), Int64(x.columns), Int64(x.columns),
                                            pw.baseAddress, pb.baseAddress, Int64(w.rows), py, Int64(w.rows),
                                            Int32(threads))
                    }
                }
            }
        }
        try check(status, "sg_lightglue_linear")
        return out
    }

    /// A rows × columns matrix whose values `fill` writes completely (no zero fill first). On a
    /// failed status the values are zeroed before the matrix is returned.
    static func uninitializedMatrix(_ rows: Int, _ columns: Int,
                                    _ fill: (UnsafeMutablePointer<Float>) -> sg_status) -> (Matrix, sg_status) {
        var status = SG_OK
        let values = [Float](unsafeUninitializedCapacity: rows * columns) { buffer, count in
            status = fill(buffer.baseAddress!)
            if status != SG_OK { buffer.initialize(repeating: 0) }
            count = rows * columns
        }
        return (Matrix(uncheckedRows: rows, columns: columns, values: values), status)
    }
}
