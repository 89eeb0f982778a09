import Testing
@testable import SparseGlue

@Suite struct FusionTests {
    @Test func orthogonalPartIsOrthogonal() throws {
        let f1 = try randomMatrix(200, 64, seed: 1), f2 = try randomMatrix(200, 64, seed: 2)
        let (g1, cosines) = try OrthogonalFusion.project(f1, onto: f2)
        let n2 = f2.rowNorms(), ng = g1.rowNorms()
        for i in 0..<200 {
            var dot: Float = 0
            for t in 0..<64 { dot += g1[i, t] * f2[i, t] }
            #expect(abs(dot) <= 1e-4 * max(ng[i] * n2[i], 1))
            #expect((0...1).contains(cosines[i]))
        }
        #expect(try OrthogonalFusion.orthogonality(f1, f1) > 0.999)
        #expect(try OrthogonalFusion.orthogonality(g1, f2) < 1e-3)
    }

    @Test func zeroF2GivesNoNaN() throws {
        let f1 = try randomMatrix(5, 8, seed: 3), f2 = try Matrix(rows: 5, columns: 8)
        let (g1, cosines) = try OrthogonalFusion.project(f1, onto: f2)
        #expect(g1 == f1)
        #expect(cosines == [0, 0, 0, 0, 0])
        let zero = try Matrix(rows: 5, columns: 8)
        #expect(try OrthogonalFusion.project(zero, onto: zero).orthogonal == zero)
        #expect(thrownError { _ = try OrthogonalFusion.project(f1, onto: randomMatrix(4, 8, seed: 4)) } != nil)
        var bad = f1
        bad[0, 0] = .infinity
        #expect(thrownError { _ = try OrthogonalFusion.project(bad, onto: f1) } != nil)
    }

    @Test func fusionBlockBackendsAgreeAndModesDiffer() throws {
        let data = try SyntheticPair(count: 150, dimension: 32, seed: 5)
        let pair = try GraphPair.disjoint(points: data.a.positions, k1: 4, k2: 12)
        var rng = SeededGenerator(seed: 6)
        let ortho = try MultiScaleFusion(dimension: 32, heads: 4, generator: &rng)
        let concat = try MultiScaleFusion(attention: ortho.attention, mlp: ortho.mlp, mode: .concatenation)
        let x = data.a.descriptors
        let sparse = try ortho(x, senders: x, g1: pair.g1, g2: pair.g2, backend: .sparse)
        let masked = try ortho(x, senders: x, g1: pair.g1, g2: pair.g2, backend: .masked)
        #expect(try relativeError(sparse.message, masked.message) <= 1e-5)
        #expect(sparse.message.rows == 150 && sparse.message.columns == 32 && sparse.message.isFinite)
        #expect((0...1).contains(sparse.orthogonality))
        let plain = try concat(x, senders: x, g1: pair.g1, g2: pair.g2, backend: .sparse)
        #expect(try plain.message.maxAbsoluteDifference(sparse.message) > 1e-4)
        #expect(plain.f1 == sparse.f1)
    }

    @Test func propagationIsResidual() throws {
        var rng = SeededGenerator(seed: 7)
        let block = try PropagationBlock(dimension: 16, generator: &rng)
        let x = try randomMatrix(10, 16, seed: 8)
        let y = try block(x, message: try randomMatrix(10, 16, seed: 9))
        let expected = try x + block.mlp(try x.concatenatingColumns(try randomMatrix(10, 16, seed: 9)))
        #expect(y == expected)
        #expect(thrownError { _ = try block(x, message: randomMatrix(9, 16, seed: 1)) } != nil)
    }

    @Test func linearLayerFromArrays() throws {
        let w = try Matrix(rowArrays: [[1, 2], [3, 4], [5, 6]])
        let layer = try Linear(weight: w, bias: [1, 0, -1])
        #expect(try layer(Matrix(rowArrays: [[1, 1]])) == Matrix(rowArrays: [[4, 7, 10]]))
        #expect(thrownError { _ = try Linear(weight: w, bias: [1]) } != nil)
        #expect(thrownError { _ = try layer(Matrix(rowArrays: [[1, 1, 1]])) } != nil)
    }
}
