/// Built-in synthetic data: two keypoint sets related by a random homography, with descriptors,
/// so the demo, examples and tests run without any file.
///
/// Image A has `count` keypoints uniform in a `width × height` image; image B holds the images of
/// A's first `count − outliers` keypoints under H (plus pixel noise) and `outliers` random ones,
/// shuffled. Descriptors are random unit vectors; B's inliers get A's descriptor plus noise.
public struct SyntheticPair: Sendable {
    public let a: KeypointSet
    public let b: KeypointSet
    /// Row-major 3 × 3 homography mapping A's pixels to B's.
    public let homography: [Double]
    /// For each keypoint of A, the index of its true match in B, or −1.
    public let groundTruth: [Int32]

    public init(count: Int, dimension: Int = 256, outlierFraction: Double = 0.2, width: Float = 640,
                height: Float = 480, pixelNoise: Float = 0.5, descriptorNoise: Float = 0.3, seed: UInt64 = 1) throws {
        try require(count >= 2, "a synthetic pair needs at least 2 keypoints, got \(count)")
        try require(dimension >= 1, "descriptor dimension must be ≥ 1")
        try require((0...1).contains(outlierFraction), "outlier fraction must be in [0, 1]")
        var rng = SeededGenerator(seed: seed)
        // A mild random homography: rotation, scale, shear and perspective around the centre.
        let angle = Double(rng.nextFloat(in: -0.3...0.3)), scale = Double(rng.nextFloat(in: 0.85...1.15))
        let (cx, cy) = (Double(width) / 2, Double(height) / 2)
        let p1 = Double(rng.nextFloat(in: -2e-4...2e-4)), p2 = Double(rng.nextFloat(in: -2e-4...2e-4))
        let (c, s) = (cos(angle) * scale, sin(angle) * scale)
        let tx = Double(rng.nextFloat(in: -20...20)), ty = Double(rng.nextFloat(in: -20...20))
        // H = T(centre + t) · [R·s, perspective] · T(−centre)
        let h: [Double] = [c, -s, cx + tx - (c * cx - s * cy),
                           s, c, cy + ty - (s * cx + c * cy),
                           p1, p2, 1 - p1 * cx - p2 * cy]
        homography = h

        let inliers = count - Int(Double(count) * outlierFraction)
        var posA = [Float](), posB = [Float](repeating: 0, count: count * 2)
        var descA = [Float](), descB = [Float](repeating: 0, count: count * dimension)
        posA.reserveCapacity(count * 2)
        descA.reserveCapacity(count * dimension)
        func unitVector(_ rng: inout SeededGenerator) -> [Float] {
            var v = (0..<dimension).map { _ in rng.nextGaussian() }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in 0..<dimension { v[i] /= max(norm, 1e-12) }
            return v
        }
        // B's rows are a seeded permutation so matches are not the identity.
        var order = Array(0..<count)
        order.shuffle(using: &rng)
        var truth = [Int32](repeating: -1, count: count)
        for i in 0..<count {
            let x = rng.nextFloat(in: 0...width), y = rng.nextFloat(in: 0...height)
            posA += [x, y]
            let d = unitVector(&rng)
            descA += d
            let j = order[i]
            var bx: Float, by: Float, db: [Float]
            if i < inliers {
                let w = h[6] * Double(x) + h[7] * Double(y) + h[8]
                bx = Float((h[0] * Double(x) + h[1] * Double(y) + h[2]) / w) + rng.nextGaussian() * pixelNoise
                by = Float((h[3] * Double(x) + h[4] * Double(y) + h[5]) / w) + rng.nextGaussian() * pixelNoise
                db = d.map { $0 + rng.nextGaussian() * descriptorNoise / Float(dimension).squareRoot() }
                truth[i] = Int32(j)
            } else {
                bx = rng.nextFloat(in: 0...width)
                by = rng.nextFloat(in: 0...height)
                db = unitVector(&rng)
            }
            posB[2 * j] = bx
            posB[2 * j + 1] = by
            for t in 0..<dimension { descB[j * dimension + t] = db[t] }
        }
        groundTruth = truth
        a = try KeypointSet(positions: Matrix(rows: count, columns: 2, values: posA),
                            descriptors: Matrix(rows: count, columns: dimension, values: descA))
        b = try KeypointSet(positions: Matrix(rows: count, columns: 2, values: posB),
                            descriptors: Matrix(rows: count, columns: dimension, values: descB))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
