import Testing
@testable import SparseGlue

@Suite struct GNNTests {
    let data: SyntheticPair
    init() throws { data = try SyntheticPair(count: 64, dimension: 32, seed: 21) }

    func config(_ graphs: GraphPolicy, values: ValuePolicy = .fresh) -> GNNConfiguration {
        var c = GNNConfiguration()
        c.dimension = 32
        c.heads = 4
        c.layers = 3
        c.graphs = graphs
        c.values = values
        c.seed = 99
        return c
    }

    @Test func sparseGraphsCoveringEverythingEqualTheDenseModel() throws {
        let dense = try SparseAttentionalGNN(configuration: config(.complete))(data.a, data.b, backend: .dense)
        // kNN(n − 1) plus self and top-n cross graphs are complete graphs in CSR form.
        let everything = GraphPolicy(selfGraph: .knn(k: 63), crossGraph: .topK(k: 64, metric: .cosine))
        let sparse = try SparseAttentionalGNN(configuration: config(everything))(data.a, data.b, backend: .sparse)
        #expect(try relativeError(sparse.descriptorsA, dense.descriptorsA) <= 1e-4)
        #expect(try relativeError(sparse.descriptorsB, dense.descriptorsB) <= 1e-4)
        #expect(sparse.layers.allSatisfy { $0.selfEdges.0 == 64 * 64 && $0.crossEdges.1 == 64 * 64 })
    }

    @Test func completeLayersRunDense() throws {
        let dense = try SparseAttentionalGNN(configuration: config(.complete))(data.a, data.b, backend: .dense)
        let policy = GraphPolicy(selfGraph: .knn(k: 8), crossGraph: .topK(k: 8, metric: .dot), completeLayers: 3)
        let out = try SparseAttentionalGNN(configuration: config(policy))(data.a, data.b, backend: .sparse)
        #expect(out.descriptorsA == dense.descriptorsA)
        let partly = GraphPolicy(selfGraph: .knn(k: 8), crossGraph: .topK(k: 8, metric: .dot), completeLayers: 1)
        let mixed = try SparseAttentionalGNN(configuration: config(partly))(data.a, data.b, backend: .sparse)
        #expect(mixed.layers.map(\.complete) == [true, false, false])
        #expect(mixed.layers[1].selfEdges.0 == 64 * 9)
        #expect(mixed.descriptorsA != dense.descriptorsA)
    }

    @Test func sparseAndMaskedAgreeForEveryRecipe() throws {
        let recipes: [SelfGraphRecipe] = [.knn(k: 6), .pair(.nested, k1: 4, k2: 12), .pair(.disjoint, k1: 4, k2: 12),
                                          .partition(groups: 4), .spanningTree(unionWithKNN: 3),
                                          .diverse(k: 5, candidates: 12, alpha: 1, beta: 0.5)]
        for recipe in recipes {
            for schedule in GraphPolicy.Schedule.allCases {
                let policy = GraphPolicy(selfGraph: recipe, crossGraph: .topK(k: 10, metric: .cosine),
                                         source: .descriptors, schedule: schedule)
                let model = try SparseAttentionalGNN(configuration: config(policy))
                let sparse = try model(data.a, data.b, backend: .sparse)
                let masked = try model(data.a, data.b, backend: .masked)
                #expect(try relativeError(sparse.descriptorsA, masked.descriptorsA) <= 1e-4, "\(recipe) \(schedule)")
                #expect(sparse.descriptorsB.isFinite)
                if case .pair = recipe { #expect(sparse.layers.allSatisfy { $0.orthogonality != nil }) }
            }
        }
    }

    @Test func valuePolicies() throws {
        let policy = GraphPolicy(selfGraph: .knn(k: 8), crossGraph: .topK(k: 8, metric: .cosine))
        func run(_ v: ValuePolicy) throws -> Matrix {
            try SparseAttentionalGNN(configuration: config(policy, values: v))(data.a, data.b, backend: .sparse).descriptorsA
        }
        let fresh = try run(.fresh)
        #expect(try run(.refreshEvery(1)) == fresh)
        let original = try run(.original)
        #expect(original != fresh)
        let every2 = try run(.refreshEvery(2))
        #expect(every2 != fresh && every2 != original)
        #expect(try run(.refreshEvery(3)) == original)   // 3 layers: refreshed at layer 0 only
        #expect(thrownError { _ = try SparseAttentionalGNN(configuration: config(policy, values: .refreshEvery(0))) } != nil)
    }

    @Test func resultsDoNotDependOnThreadCount() throws {
        let policy = GraphPolicy(selfGraph: .pair(.nested, k1: 4, k2: 16), crossGraph: .topK(k: 8, metric: .cosine))
        let model = try SparseAttentionalGNN(configuration: config(policy))
        let one = try model(data.a, data.b, backend: .sparse, threads: 1)
        let two = try model(data.a, data.b, backend: .sparse, threads: 2)
        #expect(one.descriptorsA == two.descriptorsA)
        #expect(one.descriptorsB == two.descriptorsB)
    }

    @Test func badModelInputsThrow() throws {
        var c = config(.complete)
        c.heads = 5
        #expect(thrownError { _ = try SparseAttentionalGNN(configuration: c) } != nil)
        let model = try SparseAttentionalGNN(configuration: config(.complete))
        let wrong = try SyntheticPair(count: 10, dimension: 16, seed: 1)
        #expect(thrownError { _ = try model(wrong.a, wrong.b, backend: .dense) } != nil)
        #expect(thrownError { _ = try KeypointSet(positions: Matrix(rows: 3, columns: 3), descriptors: Matrix(rows: 3, columns: 32)) } != nil)
        #expect(thrownError { _ = try KeypointSet(positions: Matrix(rows: 3, columns: 2), descriptors: Matrix(rows: 2, columns: 32)) } != nil)
        #expect(thrownError { _ = try KeypointSet(positions: Matrix(rows: 0, columns: 2), descriptors: Matrix(rows: 0, columns: 32)) } != nil)
        #expect(thrownError { _ = try SyntheticPair(count: 1) } != nil)
    }

    @Test func syntheticPairHasGroundTruth() throws {
        let p = try SyntheticPair(count: 100, dimension: 16, outlierFraction: 0.2, seed: 3)
        #expect(p.groundTruth.filter { $0 >= 0 }.count == 80)
        #expect(Set(p.groundTruth.filter { $0 >= 0 }).count == 80)
        #expect(try SyntheticPair(count: 100, dimension: 16, seed: 3).a == p.a)
    }
}
