// LightGlue's match assignment (sigmoid log double softmax with dustbins) and match filtering
// (mutual argmax above a threshold).
import Foundation

extension LightGlue {
    /// log_assignment[i]: returns (scores (n0+1)×(n1+1), sim, z0, z1). scores[:n, :m] =
    /// log_softmax_j(sim) + log_softmax_i(sim) + logσ(z0) + logσ(z1)ᵀ, dustbin column logσ(−z0),
    /// dustbin row logσ(−z1), corner 0 (sg_lightglue_log_double_softmax).
    func assignment(_ i: Int, _ x0: Matrix, _ x1: Matrix) throws -> (Matrix, Matrix, [Float], [Float]) {
        let head = weights.assignment[i]
        let scale = 1 / Float(configuration.descriptorDimension).squareRoot().squareRoot()
        var md0 = try head.finalProj(x0, threads: threads), md1 = try head.finalProj(x1, threads: threads)
        md0.values.withUnsafeMutableBufferPointer { p in for j in p.indices { p[j] *= scale } }
        md1.values.withUnsafeMutableBufferPointer { p in for j in p.indices { p[j] *= scale } }
        let sim = try md0.matmul(md1, transposingOther: true, threads: threads)
        let z0 = try head.matchability(x0, threads: threads).values
        let z1 = try head.matchability(x1, threads: threads).values
        return (try Kernels.lightGlueLogDoubleSoftmax(sim, z0, z1, threads: threads), sim, z0, z1)
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
