// Sparse LightGlue (training-free): the pretrained weights with attention restricted to sparse
// graphs. Self-attention on each keypoint's k nearest keypoints in its image (optionally a
// nested / disjoint pair of neighbourhoods split over the heads, plus global hub keypoints),
// cross-attention on each point's k most similar points of the other image, ranked by the layer's
// own attention logits; the first layers kept dense. See docs/sparse-lightglue.md.
import Foundation

/// Which graphs LightGlue's attention runs on; nil fields mean the complete graph (dense).
public struct LightGlueSparsity: Codable, Sendable, Equatable {
    /// How a cross-attention row picks its k keys in the other image.
    public enum CrossScores: String, Codable, Sendable, CaseIterable {
        /// The layer's attention logits summed over heads, ⟨qk0_i, qk1_j⟩ on the projected 256-d
        /// features: one graph shared by all heads (one GEMM of the size of one head's sim × heads).
        case logits
        /// Each head's own logits ⟨qk0_i,h, qk1_j,h⟩: one graph per head, the top-k of exactly the
        /// scores its softmax normalises (the faithful proxy, same search cost as `logits`).
        case headLogits
        /// Cosine of the layer's input descriptors (no projection): the cheapest, least faithful.
        case descriptors
        /// Spatial groups of the other image (`crossGroupSize`) ranked by the logit of their mean
        /// key: exact attention to the members of the best crossK / groupSize groups, centroids for
        /// the rest. No n×m product at all.
        case groups
        /// The first head's logits only (a 64-d search, a quarter of `logits`' cost).
        case firstHead
    }

    /// How a self-attention row picks its keys.
    public enum SelfScores: String, Codable, Sendable, CaseIterable {
        /// Positional k-NN in the image (the keypoint layout; cheap 2-D grid search).
        case positions
        /// Each head's own logits ⟨q_i,h, k_j,h⟩ (rotary-encoded): a per-head top-k, as costly to
        /// find as one dense similarity per head — a reference for how much a positional graph loses.
        case headLogits
    }

    /// Layers 0..<denseLayers run the published dense attention.
    public var denseLayers: Int
    /// Self-attention stays dense in layers 0..<max(denseLayers, selfDenseLayers) (nil: denseLayers):
    /// self-attention tolerates sparsity in fewer layers than cross-attention does.
    public var selfDenseLayers: Int?
    /// Self-attention on each keypoint's `selfK` nearest keypoints (positions) plus itself. With
    /// `selfOuterK`, the inner neighbourhood of a nested / disjoint pair (heads of the first half).
    public var selfK: Int?
    /// With `selfK`: heads h ≥ heads/2 attend over kNN(selfOuterK) (`selfPair == .nested`) or
    /// kNN(selfOuterK) \ kNN(selfK) (`.disjoint`), heads h < heads/2 over kNN(selfK) + self.
    public var selfOuterK: Int?
    public var selfPair: GraphPair.Kind
    /// Self-attention rows also attend to their `selfLogitK` keys of largest logit summed over heads
    /// ⟨q_i, k_j⟩ (found inside the self block: the peaks of the attention, wherever they are).
    public var selfLogitK: Int?
    /// Keypoints every self-attention row also attends to: the `selfHubs` keys most attended on
    /// average, largest ⟨q̄, k_j⟩ with q̄ the mean query (a GEMV: global context next to the local
    /// neighbourhood; found inside the self block). 0 = none. Formerly: the best-scored points.
    /// (global context next to the local neighbourhood). 0 = none.
    public var selfHubs: Int
    public var selfScores: SelfScores
    /// Far-field self-attention: the kept points are split into spatially compact groups of about
    /// this many points (equal partition by median bisection); a point attends exactly to its own
    /// group (∪ kNN(selfK) when set) and to the centroid (mean key, mean value, log-size bias) of
    /// every other group — the whole image at O(n·(s + n/s)) cost. nil = no far field.
    public var selfGroupSize: Int?
    /// Far-field cross-attention: besides its top-k, a point attends to the centroids of the other
    /// image's spatial groups of about this many points. nil = no far field.
    public var crossGroupSize: Int?
    /// With a cross far field: search the top-k of image 0's rows only and let image 1's points
    /// attend to the image-0 points that picked them (the transposed graph; one search, not two).
    public var crossTranspose: Bool
    /// Cross-attention on each point's `crossK` most similar points of the other image.
    public var crossK: Int?
    public var crossScores: CrossScores

    public init(denseLayers: Int = 0, selfDenseLayers: Int? = nil, selfK: Int? = nil, selfOuterK: Int? = nil, selfPair: GraphPair.Kind = .nested,
                selfHubs: Int = 0, selfScores: SelfScores = .positions, selfGroupSize: Int? = nil, selfLogitK: Int? = nil,
                crossK: Int? = nil, crossScores: CrossScores = .logits, crossGroupSize: Int? = nil,
                crossTranspose: Bool = false) {
        self.denseLayers = denseLayers
        self.selfDenseLayers = selfDenseLayers
        self.selfK = selfK
        self.selfOuterK = selfOuterK
        self.selfPair = selfPair
        self.selfHubs = selfHubs
        self.selfScores = selfScores
        self.selfGroupSize = selfGroupSize
        self.selfLogitK = selfLogitK
        self.crossK = crossK
        self.crossScores = crossScores
        self.crossGroupSize = crossGroupSize
        self.crossTranspose = crossTranspose
    }

    private enum CodingKeys: String, CodingKey {
        case denseLayers, selfK, selfOuterK, selfPair, selfHubs, selfScores, selfGroupSize, crossK, crossScores
        case crossGroupSize, crossTranspose, selfLogitK, selfDenseLayers
    }

    /// Fields added after the first version default when absent.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(denseLayers: try c.decodeIfPresent(Int.self, forKey: .denseLayers) ?? 0,
                  selfDenseLayers: try c.decodeIfPresent(Int.self, forKey: .selfDenseLayers),
                  selfK: try c.decodeIfPresent(Int.self, forKey: .selfK),
                  selfOuterK: try c.decodeIfPresent(Int.self, forKey: .selfOuterK),
                  selfPair: try c.decodeIfPresent(GraphPair.Kind.self, forKey: .selfPair) ?? .nested,
                  selfHubs: try c.decodeIfPresent(Int.self, forKey: .selfHubs) ?? 0,
                  selfScores: try c.decodeIfPresent(SelfScores.self, forKey: .selfScores) ?? .positions,
                  selfGroupSize: try c.decodeIfPresent(Int.self, forKey: .selfGroupSize),
                  selfLogitK: try c.decodeIfPresent(Int.self, forKey: .selfLogitK),
                  crossK: try c.decodeIfPresent(Int.self, forKey: .crossK),
                  crossScores: try c.decodeIfPresent(CrossScores.self, forKey: .crossScores) ?? .logits,
                  crossGroupSize: try c.decodeIfPresent(Int.self, forKey: .crossGroupSize),
                  crossTranspose: try c.decodeIfPresent(Bool.self, forKey: .crossTranspose) ?? false)
    }

    func validate(layers: Int) throws {
        try require(denseLayers >= 0 && denseLayers <= layers, "denseLayers must be in 0...\(layers), got \(denseLayers)")
        if let l = selfDenseLayers {
            try require(l >= 0 && l <= layers, "selfDenseLayers must be in 0...\(layers), got \(l)")
        }
        if let k = selfK { try require(k >= 1, "selfK must be ≥ 1, got \(k)") }
        if let k = crossK { try require(k >= 1, "crossK must be ≥ 1, got \(k)") }
        if let k2 = selfOuterK {
            guard let k1 = selfK else { throw SparseGlueError.invalidArgument("selfOuterK needs selfK (the inner neighbourhood)") }
            try require(k2 > k1, "selfOuterK must exceed selfK, got \(k2) ≤ \(k1)")
            try require(selfScores == .positions, "a nested / disjoint self pair is positional (selfScores = positions)")
        }
        try require(selfHubs >= 0, "selfHubs must be ≥ 0, got \(selfHubs)")
        try require(selfHubs == 0 || selfK != nil || selfGroupSize != nil, "selfHubs needs a sparse self graph (selfK or selfGroupSize)")
        if let k = selfLogitK {
            try require(k >= 1, "selfLogitK must be ≥ 1, got \(k)")
            try require(selfK != nil || selfGroupSize != nil, "selfLogitK adds to a sparse self graph (selfK or selfGroupSize)")
        }
        if let g = selfGroupSize {
            try require(g >= 2, "selfGroupSize must be ≥ 2, got \(g)")
            try require(selfOuterK == nil && selfScores == .positions,
                        "a far-field self graph combines only with positional kNN (selfK)")
        }
        if let g = crossGroupSize {
            try require(g >= 2, "crossGroupSize must be ≥ 2, got \(g)")
            try require(crossK != nil && crossScores != .headLogits, "a cross far field needs a shared cross top-k (crossK)")
        }
        try require(crossScores != .groups || crossGroupSize != nil, "cross top groups need crossGroupSize")
        try require(!crossTranspose || (crossGroupSize != nil && crossScores != .groups),
                    "a transposed cross graph needs a cross far field (crossGroupSize) and a top-k search")
    }
}

/// The graphs of one LightGlue layer over the points still kept; nil = complete graph.
///

extension LightGlueSparsity {
    /// The recommended training-free variant, "L3-c32ot-x32" (chosen on the fixture pairs; see
    /// docs/sparse-lightglue.md): layers 0–2 dense; from layer 3 self-attention stays dense and
    /// cross-attention runs on each image-0 point's top-32 by the first head's logits (the
    /// transposed graph for image 1) plus the centroids of the other image's spatial groups of 32
    /// (far field). Match F1 ≥ 0.95 against dense on every fixture pair and the 2048-point mosaic,
    /// adaptivity on and off (≥ 0.92 with 512 keypoints).
    /// Self-attention is left dense: no training-free self graph kept F1 ≥ 0.9 on sacre_coeur.
    public static let recommended = LightGlueSparsity(denseLayers: 3, crossK: 32, crossScores: .firstHead,
                                                      crossGroupSize: 32, crossTranspose: true)
}

extension LightGlueSparsity {
    /// "first 1 layer dense, self kNN 32, cross top-64 (logits)".
    public var summary: String {
        var parts = [String]()
        if denseLayers > 0 { parts.append("first \(denseLayers) layer\(denseLayers == 1 ? "" : "s") dense") }
        if let l = selfDenseLayers, l > denseLayers { parts.append("self dense in layers 0–\(l - 1)") }
        if let g = selfGroupSize {
            parts.append("self own group + far-field centroids (groups of \(g))" + (selfK.map { " ∪ kNN \($0)" } ?? "")
                         + (selfHubs > 0 ? " + \(selfHubs) hubs" : "") + (selfLogitK.map { " + top-\($0) logits" } ?? ""))
        } else if let k = selfK {
            var s = selfScores == .headLogits ? "self top-\(k) (head logits)" : "self kNN \(k)"
            if let k2 = selfOuterK { s = "self kNN \(k)/\(k2) \(selfPair.rawValue)" }
            if selfHubs > 0 { s += " + \(selfHubs) hubs" }
            if let l = selfLogitK { s += " + top-\(l) logits" }
            parts.append(s)
        } else {
            parts.append("self dense")
        }
        parts.append(crossK.map { "cross top-\($0) (\(crossScores.rawValue)\(crossTranspose ? ", reverse = transpose" : ""))" } ?? "cross dense")
        if let g = crossGroupSize { parts.append("cross far field (groups of \(g))") }
        return parts.joined(separator: ", ")
    }

    /// A compact name: "dense", or tokens joined by "-": `L<n>` dense layers, `s<k>` self kNN,
    /// `s<k1>/<k2>n|d` nested / disjoint pair over the heads, `s<k>q` self top-k by head logits,
    /// `h<m>` hubs, `c<k>` cross top-k by logits, `c<k>h` per head, `c<k>d` by descriptor cosine.
    public var name: String {
        if denseLayers == 0 && selfK == nil && crossK == nil && selfGroupSize == nil { return "dense" }
        var t = [String]()
        if denseLayers > 0 { t.append("L\(denseLayers)") }
        if let l = selfDenseLayers { t.append("Ls\(l)") }
        if let k = selfK {
            if let k2 = selfOuterK { t.append("s\(k)/\(k2)\(selfPair == .nested ? "n" : "d")") }
            else { t.append("s\(k)\(selfScores == .headLogits ? "q" : "")") }
        }
        if selfHubs > 0 { t.append("h\(selfHubs)") }
        if let g = selfGroupSize { t.append("g\(g)") }
        if let l = selfLogitK { t.append("l\(l)") }
        if let k = crossK {
            t.append("c\(k)" + (crossScores == .headLogits ? "h" : crossScores == .descriptors ? "d" : crossScores == .groups ? "g" : crossScores == .firstHead ? "o" : "")
                     + (crossTranspose ? "t" : ""))
        }
        if let g = crossGroupSize { t.append("x\(g)") }
        return t.joined(separator: "-")
    }

    /// Parses `name` (see there); throws `.invalidArgument` on a malformed name.
    public init(name: String) throws {
        self.init()
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed == "dense" { return }
        func int(_ s: Substring, _ token: Substring) throws -> Int {
            guard let v = Int(s) else { throw SparseGlueError.invalidArgument("bad sparsity token '\(token)' in '\(name)'") }
            return v
        }
        for token in trimmed.split(separator: "-") {
            guard let head = token.first else { continue }
            var body = token.dropFirst()
            switch head {
            case "L":
                if body.first == "s" { selfDenseLayers = try int(body.dropFirst(), token) } else { denseLayers = try int(body, token) }
            case "h": selfHubs = try int(body, token)
            case "g": selfGroupSize = try int(body, token)
            case "l": selfLogitK = try int(body, token)
            case "x": crossGroupSize = try int(body, token)
            case "s":
                if body.last == "q" { selfScores = .headLogits; body = body.dropLast() }
                if let slash = body.firstIndex(of: "/") {
                    guard let kind = body.last, kind == "n" || kind == "d" else {
                        throw SparseGlueError.invalidArgument("a self pair '\(token)' ends in n (nested) or d (disjoint)")
                    }
                    selfPair = kind == "n" ? .nested : .disjoint
                    selfK = try int(body[..<slash], token)
                    selfOuterK = try int(body[body.index(after: slash)..<body.index(before: body.endIndex)], token)
                } else {
                    selfK = try int(body, token)
                }
            case "c":
                if body.last == "t" { crossTranspose = true; body = body.dropLast() }
                switch body.last {
                case "g": crossScores = .groups; body = body.dropLast()
                case "o": crossScores = .firstHead; body = body.dropLast()
                case "h": crossScores = .headLogits; body = body.dropLast()
                case "d": crossScores = .descriptors; body = body.dropLast()
                default: crossScores = .logits
                }
                crossK = try int(body, token)
            default:
                throw SparseGlueError.invalidArgument("unknown sparsity token '\(token)' in '\(name)' (L, s, h, c)")
            }
        }
    }
}
