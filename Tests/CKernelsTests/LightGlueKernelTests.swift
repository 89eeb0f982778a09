import CKernels
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Tests of the LightGlue-specific kernels in CKernels/src/lightglue.c (rotary encoding, fused
// message FFN, match assignment, linear layer) against plain double-precision loops (the linear
// layer against sg_linear, bit for bit).

fileprivate extension KernelTestRng {
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    mutating func floats(_ n: Int, scale: Float = 1, offset: Float = 0) -> [Float] {
        (0..<n).map { _ in float() * scale + offset }
    }
}

/// max |a − b| / max(max |b|, 1).
fileprivate func relErr(_ a: [Float], _ b: [Double]) -> Double {
    var e = 0.0, s = 1.0
    for i in b.indices {
        e = Swift.max(e, abs(Double(a[i]) - b[i]))
        s = Swift.max(s, abs(b[i]))
    }
    return e / s
}

// MARK: rotary

fileprivate func rotary(_ x: inout [Float], n: Int, width: Int, ldx: Int, dh: Int, cos c: [Float], sin s: [Float],
                        ldr: Int, threads: Int32 = 0) -> sg_status {
    x.withUnsafeMutableBufferPointer { px in
        c.withUnsafeBufferPointer { pc in
            s.withUnsafeBufferPointer { ps in
                sg_lightglue_rotary(px.baseAddress, Int64(n), Int64(width), Int64(ldx), Int64(dh),
                                    pc.baseAddress, ps.baseAddress, Int64(ldr), threads)
            }
        }
    }
}

// MARK: FFN

fileprivate struct FFNParams {
    var d: Int, hidden: Int
    var w1: [Float], b1: [Float], gamma: [Float], beta: [Float], w2: [Float], b2: [Float]
    var eps: Float = 1e-5

    init(_ rng: inout KernelTestRng, d: Int, hidden: Int) {
        self.d = d
        self.hidden = hidden
        w1 = rng.floats(hidden * 2 * d, scale: 1 / Float(2 * d).squareRoot())
        b1 = rng.floats(hidden, scale: 0.5)
        gamma = rng.floats(hidden, scale: 0.5, offset: 1)
        beta = rng.floats(hidden, scale: 0.3)
        w2 = rng.floats(d * hidden, scale: 1 / Float(hidden).squareRoot())
        b2 = rng.floats(d, scale: 0.5)
    }

    /// x + W2 gelu(LN(W1 [x | msg] + b1)) + b2 in double, exact-erf GELU.
    func reference(x: [Float], ldx: Int, msg: [Float], ldm: Int, n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * d)
        for i in 0..<n {
            let z = (0..<d).map { Double(x[i * ldx + $0]) } + (0..<d).map { Double(msg[i * ldm + $0]) }
            var h = (0..<hidden).map { o in (0..<(2 * d)).reduce(Double(b1[o])) { $0 + Double(w1[o * 2 * d + $1]) * z[$1] } }
            let mean = h.reduce(0, +) / Double(hidden)
            let v = h.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(hidden)
            for o in 0..<hidden {
                let t = (h[o] - mean) / (v + Double(eps)).squareRoot() * Double(gamma[o]) + Double(beta[o])
                h[o] = 0.5 * t * (1 + erf(t / 2.0.squareRoot()))
            }
            for c in 0..<d {
                out[i * d + c] = Double(x[i * ldx + c]) + (0..<hidden).reduce(Double(b2[c])) { $0 + Double(w2[c * hidden + $1]) * h[$1] }
            }
        }
        return out
    }

    func run(x: [Float], ldx: Int, msg: [Float], ldm: Int, n: Int, out: inout [Float], ldo: Int,
             threads: Int32 = 0) -> sg_status {
        x.withUnsafeBufferPointer { px in
            msg.withUnsafeBufferPointer { pm in
                out.withUnsafeMutableBufferPointer { po in
                    sg_lightglue_ffn(px.baseAddress, Int64(ldx), pm.baseAddress, Int64(ldm), Int64(n), Int64(d),
                                     w1, b1, Int64(hidden), gamma, beta, eps, w2, b2,
                                     po.baseAddress, Int64(ldo), threads)
                }
            }
        }
    }
}

@Suite struct LightGlueKernelTests {
    @Test func rotaryMatchesNaiveAndLeavesOtherColumns() {
        var rng = KernelTestRng(seed: 11)
        let n = 37, dh = 8, width = 16, ldx = 27, ldr = 5
        let x0 = rng.floats(n * ldx, scale: 3)
        let c = rng.floats(n * ldr), s = rng.floats(n * ldr)
        for threads: Int32 in [1, 2, 0] {
            var x = x0
            #expect(rotary(&x, n: n, width: width, ldx: ldx, dh: dh, cos: c, sin: s, ldr: ldr, threads: threads) == SG_OK)
            var maxErr = 0.0
            for i in 0..<n {
                for j in width..<ldx { #expect(x[i * ldx + j] == x0[i * ldx + j]) }
                for h in stride(from: 0, to: width, by: dh) {
                    for k in 0..<(dh / 2) {
                        let a = Double(x0[i * ldx + h + 2 * k]), b = Double(x0[i * ldx + h + 2 * k + 1])
                        let cc = Double(c[i * ldr + k]), ss = Double(s[i * ldr + k])
                        maxErr = Swift.max(maxErr, abs(Double(x[i * ldx + h + 2 * k]) - (a * cc - b * ss)))
                        maxErr = Swift.max(maxErr, abs(Double(x[i * ldx + h + 2 * k + 1]) - (b * cc + a * ss)))
                    }
                }
            }
            #expect(maxErr < 1e-5, "rotary error \(maxErr)")
        }
    }

    @Test func rotaryRejectsBadArguments() {
        var x = [Float](repeating: 1, count: 4 * 8)
        let c = [Float](repeating: 1, count: 4 * 2), s = c
        #expect(rotary(&x, n: 4, width: 8, ldx: 8, dh: 3, cos: c, sin: s, ldr: 2) == SG_ERR_SHAPE)  // odd dh
        #expect(rotary(&x, n: 4, width: 6, ldx: 8, dh: 4, cos: c, sin: s, ldr: 2) == SG_ERR_SHAPE)  // width % dh
        #expect(rotary(&x, n: 4, width: 8, ldx: 7, dh: 4, cos: c, sin: s, ldr: 2) == SG_ERR_SHAPE)  // ldx < width
        #expect(rotary(&x, n: 4, width: 8, ldx: 8, dh: 4, cos: c, sin: s, ldr: 1) == SG_ERR_SHAPE)  // ldr < dh/2
        #expect(rotary(&x, n: 0, width: 8, ldx: 8, dh: 4, cos: c, sin: s, ldr: 2) == SG_ERR_SIZE)
        let st = x.withUnsafeMutableBufferPointer {
            sg_lightglue_rotary($0.baseAddress, 4, 8, 8, 4, nil, nil, 2, 0)
        }
        #expect(st == SG_ERR_NULL)
        x[5] = .nan
        #expect(rotary(&x, n: 4, width: 8, ldx: 8, dh: 4, cos: c, sin: s, ldr: 2) == SG_ERR_NONFINITE)
    }

    /// Sizes around the 128-row block, strided inputs, hidden not a multiple of 16, large
    /// activations (the GELU's tails).
    @Test(arguments: [(1, 8, 24), (130, 16, 40), (257, 32, 64)])
    func ffnMatchesNaive(n: Int, d: Int, hidden: Int) {
        var rng = KernelTestRng(seed: UInt64(n * 1000 + d))
        let p = FFNParams(&rng, d: d, hidden: hidden)
        let ldx = d + 3, ldm = d + 5, ldo = d + 1
        let x = rng.floats(n * ldx, scale: 4), msg = rng.floats(n * ldm, scale: 4)
        let ref = p.reference(x: x, ldx: ldx, msg: msg, ldm: ldm, n: n)
        var first: [Float]?
        for threads: Int32 in [1, 2, 3] {
            var out = [Float](repeating: -7, count: n * ldo)
            #expect(p.run(x: x, ldx: ldx, msg: msg, ldm: ldm, n: n, out: &out, ldo: ldo, threads: threads) == SG_OK)
            let packed = (0..<(n * d)).map { out[($0 / d) * ldo + $0 % d] }
            let e = relErr(packed, ref)
            #expect(e < 2e-5, "ffn n=\(n) d=\(d) h=\(hidden) threads=\(threads): error \(e)")
            for i in 0..<n { #expect(out[i * ldo + d] == -7, "padding overwritten") }
            // Bitwise the same whatever the thread count.
            if let first { #expect(first == out) } else { first = out }
        }
    }

    @Test func ffnInPlaceOnX() {
        var rng = KernelTestRng(seed: 5)
        let n = 150, d = 16, hidden = 32
        let p = FFNParams(&rng, d: d, hidden: hidden)
        let x = rng.floats(n * d, scale: 2), msg = rng.floats(n * d, scale: 2)
        var out = [Float](repeating: 0, count: n * d)
        #expect(p.run(x: x, ldx: d, msg: msg, ldm: d, n: n, out: &out, ldo: d) == SG_OK)
        var inPlace = x
        let st = msg.withUnsafeBufferPointer { pm in
            inPlace.withUnsafeMutableBufferPointer { px in
                sg_lightglue_ffn(px.baseAddress, Int64(d), pm.baseAddress, Int64(d), Int64(n), Int64(d),
                                 p.w1, p.b1, Int64(hidden), p.gamma, p.beta, p.eps, p.w2, p.b2,
                                 px.baseAddress, Int64(d), 0)
            }
        }
        #expect(st == SG_OK)
        #expect(inPlace == out)
    }

    /// The GELU polynomial over [−9, 9] through a tiny FFN: d = 1, hidden = 2, W1 rows (1, 0) and
    /// (−1, 0) turn x = 1 into (1, −1), whose LayerNorm is (1, −1), times gamma = g: (g, −g);
    /// W2 = (1, 0) then gives out = 1 + gelu(g).
    @Test func geluAccuracyOverItsRange() {
        let d = 1, hidden = 2
        var maxErr = 0.0
        var g: Float = -9
        while g <= 9 {
            var p = FFNParams(d: d, hidden: hidden, w1: [1, 0, -1, 0], b1: [0, 0], gamma: [g, g], beta: [0, 0],
                              w2: [1, 0], b2: [0])
            p.eps = 1e-12
            let x: [Float] = [1], msg: [Float] = [0]
            var out: [Float] = [0]
            #expect(p.run(x: x, ldx: 1, msg: msg, ldm: 1, n: 1, out: &out, ldo: 1) == SG_OK)
            let t = Double(g)
            let expected = 1 + 0.5 * t * (1 + erf(t / 2.0.squareRoot()))
            maxErr = Swift.max(maxErr, abs(Double(out[0]) - expected) / Swift.max(1, abs(expected)))
            g += 0.0137
        }
        #expect(maxErr < 5e-7, "gelu relative error \(maxErr)")
    }

    @Test func ffnRejectsBadArguments() {
        var rng = KernelTestRng(seed: 3)
        let p = FFNParams(&rng, d: 4, hidden: 8)
        let x = rng.floats(3 * 4), msg = rng.floats(3 * 4)
        var out = [Float](repeating: 0, count: 3 * 4)
        #expect(p.run(x: x, ldx: 3, msg: msg, ldm: 4, n: 3, out: &out, ldo: 4) == SG_ERR_SHAPE)
        #expect(p.run(x: x, ldx: 4, msg: msg, ldm: 4, n: 0, out: &out, ldo: 4) == SG_ERR_SIZE)
        var bad = p
        bad.eps = 0
        #expect(bad.run(x: x, ldx: 4, msg: msg, ldm: 4, n: 3, out: &out, ldo: 4) == SG_ERR_ARGUMENT)
        bad = p
        bad.w2[3] = .infinity
        #expect(bad.run(x: x, ldx: 4, msg: msg, ldm: 4, n: 3, out: &out, ldo: 4) == SG_ERR_NONFINITE)
        var nanMsg = msg
        nanMsg[7] = .nan
        #expect(p.run(x: x, ldx: 4, msg: nanMsg, ldm: 4, n: 3, out: &out, ldo: 4) == SG_ERR_NONFINITE)
        let st = x.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                sg_lightglue_ffn(px.baseAddress, 4, nil, 4, 3, 4, p.w1, p.b1, 8, p.gamma, p.beta, 1e-5, p.w2, p.b2,
                                 po.baseAddress, 4, 0)
            }
        }
        #expect(st == SG_ERR_NULL)
        // out overlapping msg, or x at an offset: refused (blocks would overwrite unread rows).
        var buffer = x + msg
        let overlapStatus = buffer.withUnsafeMutableBufferPointer { pb in
            [sg_lightglue_ffn(pb.baseAddress, 4, pb.baseAddress! + 12, 4, 3, 4, p.w1, p.b1, 8, p.gamma, p.beta, 1e-5,
                              p.w2, p.b2, pb.baseAddress! + 8, 4, 0),
             sg_lightglue_ffn(pb.baseAddress, 4, pb.baseAddress! + 12, 4, 3, 4, p.w1, p.b1, 8, p.gamma, p.beta, 1e-5,
                              p.w2, p.b2, pb.baseAddress! + 4, 4, 0)]
        }
        #expect(overlapStatus == [SG_ERR_ARGUMENT, SG_ERR_ARGUMENT])
    }
}

// MARK: assignment

fileprivate func logDoubleSoftmax(_ sim: [Float], n: Int, m: Int, lds: Int, _ z0: [Float], _ z1: [Float], ldo: Int,
                                  threads: Int32 = 0) -> (sg_status, [Float]) {
    var out = [Float](repeating: -99, count: (n + 1) * ldo)
    let st = out.withUnsafeMutableBufferPointer { po in
        sg_lightglue_log_double_softmax(sim, Int64(n), Int64(m), Int64(lds), z0, z1, po.baseAddress, Int64(ldo), threads)
    }
    return (st, out)
}

@Suite struct LightGlueAssignmentKernelTests {
    @Test(arguments: [(1, 1), (5, 70), (131, 97)])
    func logDoubleSoftmaxMatchesNaive(n: Int, m: Int) {
        var rng = KernelTestRng(seed: UInt64(n * 7 + m))
        let lds = m + 2, ldo = m + 3
        let sim = rng.floats(n * lds, scale: 20), z0 = rng.floats(n, scale: 8), z1 = rng.floats(m, scale: 8)
        func logSigmoid(_ x: Double) -> Double { Swift.min(x, 0) - log1p(exp(-abs(x))) }
        func lse(_ v: [Double]) -> Double { let mx = v.max()!; return mx + log(v.reduce(0) { $0 + exp($1 - mx) }) }
        let s = (0..<n).map { i in (0..<m).map { Double(sim[i * lds + $0]) } }
        let rowLSE = s.map(lse), colLSE = (0..<m).map { j in lse(s.map { $0[j] }) }
        var first: [Float]?
        for threads: Int32 in [1, 2, 3] {
            let (st, out) = logDoubleSoftmax(sim, n: n, m: m, lds: lds, z0, z1, ldo: ldo, threads: threads)
            #expect(st == SG_OK)
            var maxErr = 0.0
            for i in 0...n {
                for j in 0...m {
                    let expected: Double = if i < n && j < m {
                        (s[i][j] - rowLSE[i]) + (s[i][j] - colLSE[j]) + logSigmoid(Double(z0[i])) + logSigmoid(Double(z1[j]))
                    } else if i < n { logSigmoid(-Double(z0[i])) } else if j < m { logSigmoid(-Double(z1[j])) } else { 0 }
                    maxErr = Swift.max(maxErr, abs(Double(out[i * ldo + j]) - expected) / Swift.max(1, abs(expected)))
                }
                #expect(out[i * ldo + m + 1] == -99, "padding overwritten")
            }
            #expect(maxErr < 2e-6, "n=\(n) m=\(m) threads=\(threads): error \(maxErr)")
            if let first { #expect(first == out) } else { first = out }
        }
    }

    @Test func logDoubleSoftmaxRejectsBadArguments() {
        let sim: [Float] = [0, 1, 2, 3], z: [Float] = [0, 0]
        #expect(logDoubleSoftmax(sim, n: 2, m: 2, lds: 1, z, z, ldo: 3).0 == SG_ERR_SHAPE)
        #expect(logDoubleSoftmax(sim, n: 2, m: 2, lds: 2, z, z, ldo: 2).0 == SG_ERR_SHAPE)
        #expect(logDoubleSoftmax(sim, n: 0, m: 2, lds: 2, z, z, ldo: 3).0 == SG_ERR_SIZE)
        #expect(logDoubleSoftmax([0, .infinity, 2, 3], n: 2, m: 2, lds: 2, z, z, ldo: 3).0 == SG_ERR_NONFINITE)
        #expect(logDoubleSoftmax(sim, n: 2, m: 2, lds: 2, [0, .nan], z, ldo: 3).0 == SG_ERR_NONFINITE)
        var out = [Float](repeating: 0, count: 9)
        let st = out.withUnsafeMutableBufferPointer {
            sg_lightglue_log_double_softmax(sim, 2, 2, 2, nil, z, $0.baseAddress, 3, 0)
        }
        #expect(st == SG_ERR_NULL)
    }
}

// MARK: linear

@Suite struct LightGlueLinearKernelTests {
    /// Bit for bit sg_linear (same sgemm blocks, same bias addition), whatever the thread count.
    @Test(arguments: [(1, 5, 3), (129, 24, 40), (300, 64, 17)])
    func linearEqualsSgLinear(n: Int, inDim: Int, outDim: Int) {
        var rng = KernelTestRng(seed: UInt64(n + inDim))
        let ldx = inDim + 2, ldy = outDim + 1
        let x = rng.floats(n * ldx, scale: 2), w = rng.floats(outDim * inDim), b = rng.floats(outDim)
        var expected = [Float](repeating: -3, count: n * ldy)
        let st0 = expected.withUnsafeMutableBufferPointer {
            sg_linear(x, Int64(n), Int64(inDim), Int64(ldx), w, b, Int64(outDim), $0.baseAddress, Int64(ldy), 1)
        }
        #expect(st0 == SG_OK)
        for threads: Int32 in [1, 2, 3] {
            var y = [Float](repeating: -3, count: n * ldy)
            let st = y.withUnsafeMutableBufferPointer {
                sg_lightglue_linear(x, Int64(n), Int64(inDim), Int64(ldx), w, b, Int64(outDim), $0.baseAddress,
                                    Int64(ldy), threads)
            }
            #expect(st == SG_OK)
            #expect(y == expected, "threads \(threads)")
        }
    }

    @Test func linearRejectsBadArguments() {
        let x: [Float] = [1, 2, 3, 4], w: [Float] = [1, 0, 0, 1], b: [Float] = [0, 0]
        var y = [Float](repeating: 0, count: 4)
        func run(_ x: [Float], _ w: [Float], _ b: [Float]?, n: Int64 = 2, ldx: Int64 = 2, ldy: Int64 = 2) -> sg_status {
            y.withUnsafeMutableBufferPointer { py in
                if let b { return sg_lightglue_linear(x, n, 2, ldx, w, b, 2, py.baseAddress, ldy, 0) }
                return sg_lightglue_linear(x, n, 2, ldx, w, nil, 2, py.baseAddress, ldy, 0)
            }
        }
        #expect(run(x, w, b) == SG_OK)
        #expect(run(x, w, nil) == SG_ERR_NULL)
        #expect(run(x, w, b, n: 0) == SG_ERR_SIZE)
        #expect(run(x, w, b, ldx: 1) == SG_ERR_SHAPE)
        #expect(run(x, w, b, ldy: 1) == SG_ERR_SHAPE)
        #expect(run([1, .nan, 3, 4], w, b) == SG_ERR_NONFINITE)
        #expect(run(x, [1, 0, .infinity, 1], b) == SG_ERR_NONFINITE)
        // Finite inputs whose products overflow: an error, not a silent ±inf.
        #expect(run([3e38, 3e38, 1, 1], [3e38, 3e38, 1, 1], b) == SG_ERR_NONFINITE)
    }

    @Test func ffnReportsOverflowOfFiniteInputs() {
        var rng = KernelTestRng(seed: 4)
        var p = FFNParams(&rng, d: 4, hidden: 8)
        p.w1 = p.w1.map { $0 * 1e37 }
        let x = rng.floats(3 * 4).map { $0 * 1e30 }, msg = rng.floats(3 * 4)
        var out = [Float](repeating: 0, count: 3 * 4)
        #expect(p.run(x: x, ldx: 4, msg: msg, ldm: 4, n: 3, out: &out, ldo: 4) == SG_ERR_NONFINITE)
    }
}

fileprivate extension FFNParams {
    init(d: Int, hidden: Int, w1: [Float], b1: [Float], gamma: [Float], beta: [Float], w2: [Float], b2: [Float]) {
        self.d = d
        self.hidden = hidden
        self.w1 = w1
        self.b1 = b1
        self.gamma = gamma
        self.beta = beta
        self.w2 = w2
        self.b2 = b2
    }
}
