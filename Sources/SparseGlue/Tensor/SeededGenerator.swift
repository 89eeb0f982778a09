/// A deterministic random number generator (SplitMix64), so every example, initialisation and
/// test is reproducible from its seed on every platform — unlike `SystemRandomNumberGenerator`.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    /// The second value of a Box–Muller pair, kept for the next `nextGaussian()`.
    private var spareGaussian: Float?

    public init(seed: UInt64) {
        state = seed
        spareGaussian = nil
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits (every value exactly representable as Float).
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    public mutating func nextFloat(in range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextUnitFloat()
    }

    /// A standard normal sample (Box–Muller, computed in Double).
    public mutating func nextGaussian() -> Float {
        if let spare = spareGaussian {
            spareGaussian = nil
            return spare
        }
        // u1 in (0, 1] keeps log finite.
        let u1 = (Double(next() >> 11) + 1) / 9_007_199_254_740_992.0
        let u2 = Double(next() >> 11) / 9_007_199_254_740_992.0
        let radius = (-2 * log(u1)).squareRoot()
        spareGaussian = Float(radius * sin(2 * Double.pi * u2))
        return Float(radius * cos(2 * Double.pi * u2))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
