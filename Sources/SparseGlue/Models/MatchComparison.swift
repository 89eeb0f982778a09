// Agreement of two matchers' outputs (sparse vs dense, or against ground truth).

/// Agreement of two `matches0` vectors (−1 = unmatched): a match counts when both give the same partner.
public struct MatchComparison: Sendable, Equatable {
    public let common: Int
    public let referenceCount: Int
    public let candidateCount: Int

    /// Both are `matches0` of the same keypoints; different lengths throw `.shapeMismatch`.
    public init(reference: [Int], candidate: [Int]) throws {
        guard reference.count == candidate.count else {
            throw SparseGlueError.shapeMismatch(
                "compared matches0 have \(reference.count) and \(candidate.count) entries; they must describe the same keypoints")
        }
        var common = 0, r = 0, c = 0
        for i in reference.indices {
            if reference[i] >= 0 { r += 1 }
            if candidate[i] >= 0 { c += 1 }
            if reference[i] >= 0 && reference[i] == candidate[i] { common += 1 }
        }
        self.common = common
        referenceCount = r
        candidateCount = c
    }

    /// Fraction of the candidate's matches the reference has (1 when the candidate has none).
    public var precision: Double { candidateCount == 0 ? 1 : Double(common) / Double(candidateCount) }
    /// Fraction of the reference's matches the candidate finds (1 when the reference has none).
    public var recall: Double { referenceCount == 0 ? 1 : Double(common) / Double(referenceCount) }
    public var f1: Double { precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall) }
}
