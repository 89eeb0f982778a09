import Testing
@testable import SparseGlue

@Suite struct MatrixTests {
    @Test func shapeIsChecked() {
        #expect(thrownError { _ = try Matrix(rows: 2, columns: 3, values: [1, 2, 3]) } != nil)
        #expect(thrownError { _ = try Matrix(rowArrays: [[1, 2], [3]]) } != nil)
        #expect(thrownError { _ = try Matrix(rows: -1, columns: 3) } != nil)
    }

    @Test func matmulMatchesNaiveProduct() throws {
        let a = try randomMatrix(7, 5, seed: 1), b = try randomMatrix(5, 3, seed: 2), bt = try randomMatrix(3, 5, seed: 2)
        let c = try a.matmul(b), ct = try a.matmul(bt, transposingOther: true)
        for i in 0..<7 {
            for j in 0..<3 {
                var s: Float = 0, st: Float = 0
                for t in 0..<5 { s += a[i, t] * b[t, j]; st += a[i, t] * bt[j, t] }
                #expect(abs(c[i, j] - s) < 1e-5)
                #expect(abs(ct[i, j] - st) < 1e-5)
            }
        }
        #expect(thrownError { _ = try a.matmul(a) } == .shapeMismatch("cannot multiply 7×5 by 7×5"))
    }

    @Test func concatenationAndSum() throws {
        let a = try Matrix(rowArrays: [[1, 2], [3, 4]]), b = try Matrix(rowArrays: [[5], [6]])
        #expect(try a.concatenatingColumns(b) == Matrix(rowArrays: [[1, 2, 5], [3, 4, 6]]))
        #expect(try a + a == Matrix(rowArrays: [[2, 4], [6, 8]]))
        #expect(thrownError { _ = try a + b } != nil)
        #expect(thrownError { _ = try a.concatenatingColumns(Matrix(rows: 3, columns: 1)) } != nil)
        #expect(a.rowNorms() == [Float(5).squareRoot(), 5])
    }

    @Test func finiteCheck() throws {
        var m = try Matrix(rows: 2, columns: 2, repeating: 1)
        #expect(m.isFinite)
        m[1, 1] = .nan
        #expect(!m.isFinite)
        m[1, 1] = .infinity
        #expect(thrownError { try m.checkFinite("m") } == .nonFiniteInput("m contains NaN or Inf"))
    }

    @Test func seededGeneratorIsDeterministic() throws {
        #expect(try randomMatrix(3, 4, seed: 42) == randomMatrix(3, 4, seed: 42))
        #expect(try randomMatrix(3, 4, seed: 42) != randomMatrix(3, 4, seed: 43))
        var rng = SeededGenerator(seed: 5)
        let samples = (0..<20000).map { _ in Double(rng.nextGaussian()) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1) < 0.05)
    }
}
