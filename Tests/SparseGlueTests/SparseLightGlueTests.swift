import Foundation
import Testing
@testable import SparseGlue

// Sparse LightGlue (training-free sparse attention graphs on the pretrained weights).

/// The repository root: three levels up from Tests/SparseGlueTests/<this file>.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private func sampleFeatures(_ pair: String, _ image: Int, keypoints: Int? = nil) throws -> LightGlueFeatures {
    let f = try LightGlueFeatures(contentsOf: repositoryRoot.appendingPathComponent("samples/\(pair)/image\(image).safetensors"))
    guard let n = keypoints, n < f.count else { return f }
    return try LightGlueFeatures(keypoints: f.keypoints.gatheringRows(Array(0..<n)),
                                 descriptors: f.descriptors.gatheringRows(Array(0..<n)),
                                 imageWidth: f.imageWidth, imageHeight: f.imageHeight)
}

private struct MissingSparseWeights: Error, CustomStringConvertible {
    let path: String
    var description: String { "LightGlue weights not found at \(path): run scripts/fetch-weights (or set SPARSEGLUE_WEIGHTS)" }
}

/// $SPARSEGLUE_WEIGHTS or ~/.cache/sparseglue/disk_lightglue.safetensors, loaded once (adaptivity off).
private let sparseTestModel: Result<LightGlue, any Error> = Result {
    var url = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/sparseglue/disk_lightglue.safetensors")
    if let env = ProcessInfo.processInfo.environment["SPARSEGLUE_WEIGHTS"], !env.isEmpty { url = URL(fileURLWithPath: env) }
    guard FileManager.default.fileExists(atPath: url.path) else { throw MissingSparseWeights(path: url.path) }
    return try LightGlue(weights: url, config: LightGlueConfiguration(features: "disk").nonAdaptive)
}

private func withSparsity(_ s: LightGlueSparsity?, adaptive: Bool = false) throws -> LightGlue {
    let m = try sparseTestModel.get()
    var c = try LightGlueConfiguration(features: "disk")
    if !adaptive { c = c.nonAdaptive }
    c.sparsity = s
    return try m.with(configuration: c)
}

@Suite("SparseLightGlue")
struct SparseLightGlueTests {
    // MARK: complete graphs = dense

    @Test func completeGraphsGiveDenseAttention() throws {
        let n = 48, m = 40, d = 256, heads = 4
        let q = try randomMatrix(n, d, seed: 1, std: 0.5), k = try randomMatrix(m, d, seed: 2, std: 0.5)
        let v = try randomMatrix(m, d, seed: 3)
        let dense = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: heads, graph: nil, backend: .dense).output
        // Shared graph.
        let shared = try SparseAttention.apply(q, k, v, heads: heads, graph: CSRGraph.complete(rows: n, columns: m),
                                               threads: 0)
        #expect(try relativeError(shared, dense) < 1e-5)
        // Head-interleaved graph: every head on all keys.
        let all = (0..<heads).map { _ in (0..<n).flatMap { _ in (0..<m).map(Int32.init) } }
        let perHead = try SparseAttention.apply(q, k, v, heads: heads,
                                                graph: SparseAttention.interleavedGraph(all, rows: n, columns: m, heads: heads),
                                                threads: 0)
        #expect(try relativeError(perHead, dense) < 1e-5)
        // Per-head top-k with k ≥ m is the complete graph too.
        let topk = try SparseAttention.interleavedGraph(SparseAttention.headTopK(q, k, heads: heads, k: m, threads: 0),
                                                        rows: n, columns: m, heads: heads)
        #expect(topk.edgeCount == n * m * heads)
        // Far field with singleton groups: every key is its own centroid (bias log 1 = 0), so the
        // augmented features, the bias column and the rescaled q must reproduce dense attention.
        let members = CSRGraph(unchecked: m, m, (0...m).map { Int64($0) }, (0..<m).map(Int32.init))
        let farOnly = try SparseAttention.shifted(CSRGraph.complete(rows: n, columns: m), by: m)
        let far = try SparseAttention.farField(q, k, v, heads: heads, graph: farOnly, members: members, threads: 0)
        #expect(try relativeError(far, dense) < 1e-5)
    }

    @Test func farFieldCentroidBiasCountsTheGroup() throws {
        // Two identical keys in one group: the centroid with log 2 bias is exact.
        let d = 8, heads = 2
        let q = try randomMatrix(3, d, seed: 4)
        let base = try randomMatrix(2, d, seed: 5)
        let k = try Matrix(rows: 3, columns: d, values: Array(base.values[0..<d]) + Array(base.values[0..<d]) + Array(base.values[d...]))
        let v = try Matrix(rows: 3, columns: d, values: Array(base.values[d...]) + Array(base.values[d...]) + Array(base.values[0..<d]))
        let dense = try AttentionOperator.apply(queries: q, keys: k, values: v, heads: heads, graph: nil, backend: .dense).output
        let members = try CSRGraph(rowCount: 2, columnCount: 3, edges: [(0, 0), (0, 1), (1, 2)])
        let graph = try SparseAttention.shifted(CSRGraph.complete(rows: 3, columns: 2), by: 3)
        let far = try SparseAttention.farField(q, k, v, heads: heads, graph: graph, members: members, threads: 0)
        #expect(try relativeError(far, dense) < 1e-5)
    }

    @Test func modelWithCompleteGraphsMatchesDense() throws {
        let a = try sampleFeatures("sacre_coeur", 0, keypoints: 128), b = try sampleFeatures("sacre_coeur", 1, keypoints: 128)
        let dense = try withSparsity(nil).match(a, b, returnLogAssignment: true)
        // Cross top-k with k ≥ n (shared and per head) runs the sparse kernels on complete graphs.
        for s in [LightGlueSparsity(denseLayers: 1, crossK: 128), LightGlueSparsity(crossK: 500, crossScores: .headLogits),
                  LightGlueSparsity(selfK: 127, crossK: 128)] {
            let sparse = try withSparsity(s).match(a, b, returnLogAssignment: true)
            #expect(sparse.matches0 == dense.matches0, "\(s.name)")
            let la = try #require(sparse.logAssignment), lb = try #require(dense.logAssignment)
            let diff = try la.maxAbsoluteDifference(lb)
            // Float rounding only (other summation order over 9 layers): relative to the largest |log P|.
            #expect(diff <= 1e-4 * max(1, lb.maxAbsoluteValue), "\(s.name): max |Δ log assignment| \(diff) of \(lb.maxAbsoluteValue)")
        }
    }

    @Test func nestedAndDisjointPairsSplitTheHeads() throws {
        let n = 200, heads = 4
        let p = try randomMatrix(n, 2, seed: 9)
        let exact = try KNNGraph.neighbors(of: p, among: p, k: 12, excludingSelf: true)
        for kind in GraphPair.Kind.allCases {
            let s = LightGlueSparsity(selfK: 4, selfOuterK: 12, selfPair: kind)
            let g = try #require(try s.graphs(layer: 0, positions0: p, positions1: p, descriptors0: p, descriptors1: p,
                                              threads: 0, heads: heads)?.self0)
            #expect(g.rowCount == n * heads && g.columnCount == n * heads)
            for i in [0, 57, 199] {
                let inner = Set(exact.neighbors(of: i).prefix(4).map(Int.init) + [i])
                let outer = Set(exact.neighbors(of: i).map(Int.init) + (kind == .nested ? [i] : []))
                    .subtracting(kind == .disjoint ? inner : [])
                for h in 0..<heads {
                    let cols = g.neighbors(of: i * heads + h)
                    #expect(cols.allSatisfy { Int($0) % heads == h }, "head \(h) attends only to head \(h)")
                    #expect(Set(cols.map { Int($0) / heads }) == (h < heads / 2 ? inner : outer), "\(kind) head \(h) row \(i)")
                }
            }
        }
    }

    @Test(arguments: ["L1-s8-l8-c16h", "h16-g16-c32g-x16", "s8-g16-c16dt-x16", "s8q-h4-c16o", "s4/12d-h8-c16t-x16"])
    func everyGraphKindRuns(_ name: String) throws {
        let a = try sampleFeatures("sacre_coeur", 0, keypoints: 96), b = try sampleFeatures("sacre_coeur", 1, keypoints: 96)
        let dense = try withSparsity(nil, adaptive: true).match(a, b)
        let sparse = try withSparsity(LightGlueSparsity(name: name), adaptive: true).match(a, b)
        #expect(sparse.matches0.count == dense.matches0.count)
        #expect(sparse.matchCount > 0)
    }

    // MARK: the recommended variant

    @Test func recommendedKeepsMatchesOfDense() throws {
        // The full 1024-keypoint fixture pair (the table in docs/sparse-lightglue.md), adaptivity off.
        let a = try sampleFeatures("sacre_coeur", 0), b = try sampleFeatures("sacre_coeur", 1)
        #expect(LightGlueSparsity.recommended.name == "L3-c32ot-x32")
        let dense = try withSparsity(nil).match(a, b)
        let sparse = try withSparsity(.recommended).match(a, b)
        let f1 = try MatchComparison(reference: dense.matches0, candidate: sparse.matches0).f1
        #expect(f1 >= 0.9, "recommended \(LightGlueSparsity.recommended.name): F1 \(f1) vs dense")
    }

    // MARK: validation

    @Test func invalidSparsityThrows() throws {
        func rejects(_ s: LightGlueSparsity) throws -> Bool {
            var c = try LightGlueConfiguration(features: "disk")
            c.sparsity = s
            do { try c.validate() } catch is SparseGlueError { return true }
            return false
        }
        #expect(try rejects(LightGlueSparsity(selfK: 0)))
        #expect(try rejects(LightGlueSparsity(crossK: 0)))
        #expect(try rejects(LightGlueSparsity(denseLayers: 10, selfK: 32)))
        #expect(try rejects(LightGlueSparsity(denseLayers: -1)))
        #expect(try rejects(LightGlueSparsity(selfDenseLayers: 12, selfK: 32)))
        #expect(try rejects(LightGlueSparsity(selfK: 32, selfOuterK: 16)))
        #expect(try rejects(LightGlueSparsity(selfGroupSize: 1)))
        #expect(try rejects(LightGlueSparsity(crossK: 32, crossTranspose: true)))
        #expect(try rejects(LightGlueSparsity(crossK: 32, crossScores: .groups)))
        #expect(try !rejects(LightGlueSparsity(denseLayers: 9, selfK: 32)))
        #expect(try !rejects(.recommended))
        // with(configuration:) refuses it too.
        if let m = try? sparseTestModel.get() {
            var c = m.configuration
            c.sparsity = LightGlueSparsity(selfK: 0)
            #expect(throws: SparseGlueError.self) { try m.with(configuration: c) }
        }
        for bad in ["s", "c64z", "q12", "s16/64x", "L"] {
            #expect(throws: SparseGlueError.self, "\(bad)") { try LightGlueSparsity(name: bad) }
        }
    }

    @Test(arguments: ["dense", "L1-s32-c64d", "s16/64n", "s16/64d", "L2-Ls6-h128-g32-c32ot-x32", "s32q-c64h", "c64g-x32",
                      "L2-c32ot-x32"])
    func namesRoundTrip(_ name: String) throws {
        let s = try LightGlueSparsity(name: name)
        #expect(s.name == name)
        let data = try JSONEncoder().encode(s)
        #expect(try JSONDecoder().decode(LightGlueSparsity.self, from: data) == s)
    }

    @Test func decodesFirstVersionJSON() throws {
        let old = #"{"denseLayers":1,"selfK":32,"crossK":64}"#
        let s = try JSONDecoder().decode(LightGlueSparsity.self, from: Data(old.utf8))
        #expect(s == LightGlueSparsity(denseLayers: 1, selfK: 32, crossK: 64))
    }

    // MARK: MatchComparison

    @Test func matchComparisonArithmetic() throws {
        let c = try MatchComparison(reference: [0, 1, -1, 3, 4], candidate: [0, 2, -1, -1, 4])
        #expect(c.common == 2 && c.referenceCount == 4 && c.candidateCount == 3)
        #expect(abs(c.precision - 2.0 / 3) < 1e-12)
        #expect(abs(c.recall - 0.5) < 1e-12)
        #expect(abs(c.f1 - 2 * (2.0 / 3) * 0.5 / (2.0 / 3 + 0.5)) < 1e-12)
        let same = try MatchComparison(reference: [1, -1, 0], candidate: [1, -1, 0])
        #expect(same.f1 == 1)
        let none = try MatchComparison(reference: [-1, -1], candidate: [-1, -1])
        #expect(none.precision == 1 && none.recall == 1 && none.f1 == 1)
        let disjoint = try MatchComparison(reference: [0, -1], candidate: [1, -1])
        #expect(disjoint.f1 == 0)
        guard case .shapeMismatch? = thrownError({ _ = try MatchComparison(reference: [0, 1], candidate: [0]) }) else {
            Issue.record("matches0 of different lengths must throw"); return
        }
    }
}
