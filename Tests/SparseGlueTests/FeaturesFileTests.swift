import Foundation
import Testing
@testable import SparseGlue

/// The features files `sparseglue match` reads: round trip, and every malformed file is a thrown
/// error that names the problem.
@Suite struct FeaturesFileTests {
    private func tempURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("sg-features-\(UUID().uuidString)-\(name)")
    }

    private func write(_ build: (inout SafeTensorsWriter) throws -> Void) throws -> URL {
        var w = SafeTensorsWriter()
        try build(&w)
        let url = tempURL("f.safetensors")
        try w.data().write(to: url)
        return url
    }

    private func message(_ url: URL) -> String? {
        do { _ = try LightGlueFeatures(contentsOf: url); return nil } catch { return "\(error)" }
    }

    @Test func roundTripKeepsEverything() throws {
        let k = try Matrix(rows: 3, columns: 2, values: [1, 2, 3, 4, 5, 6])
        let d = try Matrix(rows: 3, columns: 4, values: (0..<12).map(Float.init))
        var f = try LightGlueFeatures(keypoints: k, descriptors: d, imageWidth: 640, imageHeight: 480)
        f.scores = [0.5, 0.25, 1]
        let url = tempURL("rt.safetensors")
        try f.safetensorsData().write(to: url)
        let g = try LightGlueFeatures(contentsOf: url)
        #expect(g.keypoints == k && g.descriptors == d && g.imageWidth == 640 && g.imageHeight == 480)
        #expect(g.scores == [0.5, 0.25, 1])
    }

    @Test func shippedSampleReads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let f = try LightGlueFeatures(contentsOf: root.appendingPathComponent("samples/sacre_coeur/image0.safetensors"))
        #expect(f.count == 1024 && f.descriptors.columns == 128 && f.scores?.count == 1024)
        #expect(f.imageWidth > 0 && f.imageHeight > 0)
    }

    @Test func malformedFilesThrowClearErrors() throws {
        let k: [Float] = [1, 2, 3, 4], d: [Float] = [1, 0, 0, 1]
        let missing = try write { w in
            try w.add("keypoints", floats: k, shape: [2, 2])
            try w.add("image_size", floats: [10, 10], shape: [2])
        }
        #expect(message(missing)?.contains("descriptors") == true)
        let badKeypoints = try write { w in
            try w.add("keypoints", floats: k, shape: [1, 4])
            try w.add("descriptors", floats: d, shape: [2, 2])
            try w.add("image_size", floats: [10, 10], shape: [2])
        }
        #expect(message(badKeypoints)?.contains("keypoints must be [N, 2]") == true)
        let countMismatch = try write { w in
            try w.add("keypoints", floats: k, shape: [2, 2])
            try w.add("descriptors", floats: d, shape: [1, 4])
            try w.add("image_size", floats: [10, 10], shape: [2])
        }
        #expect(message(countMismatch)?.contains("descriptors must be [N, D]") == true)
        let badSize = try write { w in
            try w.add("keypoints", floats: k, shape: [2, 2])
            try w.add("descriptors", floats: d, shape: [2, 2])
            try w.add("image_size", floats: [10, 0], shape: [2])
        }
        #expect(message(badSize)?.contains("image size") == true)
        let nan = try write { w in
            try w.add("keypoints", floats: [1, .nan, 3, 4], shape: [2, 2])
            try w.add("descriptors", floats: d, shape: [2, 2])
            try w.add("image_size", floats: [10, 10], shape: [2])
        }
        #expect(message(nan)?.contains("keypoints") == true)
        let badScores = try write { w in
            try w.add("keypoints", floats: k, shape: [2, 2])
            try w.add("descriptors", floats: d, shape: [2, 2])
            try w.add("image_size", floats: [10, 10], shape: [2])
            try w.add("scores", floats: [1, 2, 3], shape: [3])
        }
        #expect(message(badScores)?.contains("scores") == true)
        let wrongDType = try write { w in
            try w.add("keypoints", int32s: [1, 2, 3, 4], shape: [2, 2])
            try w.add("descriptors", floats: d, shape: [2, 2])
            try w.add("image_size", floats: [10, 10], shape: [2])
        }
        #expect(message(wrongDType) != nil)
        // Truncated: the valid file cut in the middle of its data.
        let data = try Data(contentsOf: badScores)
        let truncated = tempURL("cut.safetensors")
        try data.prefix(data.count - 7).write(to: truncated)
        #expect(message(truncated)?.contains("corrupt") == true)
        #expect(message(tempURL("does-not-exist")) != nil)
    }

    @Test func prefixAndSideBySide() throws {
        let a = try LightGlueFeatures(keypoints: Matrix(rows: 3, columns: 2, values: [1, 2, 3, 4, 5, 6]),
                                      descriptors: Matrix(rows: 3, columns: 2, values: [1, 0, 0, 1, 1, 1]),
                                      imageWidth: 100, imageHeight: 50)
        var b = try LightGlueFeatures(keypoints: Matrix(rows: 1, columns: 2, values: [7, 8]),
                                      descriptors: Matrix(rows: 1, columns: 2, values: [2, 2]),
                                      imageWidth: 40, imageHeight: 80)
        let p = try a.prefix(2)
        #expect(p.count == 2 && p.keypoints.values == [1, 2, 3, 4] && p.descriptors.values == [1, 0, 0, 1])
        #expect(try a.prefix(10).count == 3 && (try a.prefix(0)).count == 0)
        #expect(thrownError({ _ = try a.prefix(-1) }) != nil)
        let m = try LightGlueFeatures.sideBySide(a, b)
        #expect(m.count == 4 && m.imageWidth == 140 && m.imageHeight == 80)
        #expect(m.keypoints.values == [1, 2, 3, 4, 5, 6, 107, 8])
        #expect(m.descriptors.values == [1, 0, 0, 1, 1, 1, 2, 2])
        b.descriptors = try Matrix(rows: 1, columns: 3, values: [1, 2, 3])
        #expect(thrownError({ _ = try LightGlueFeatures.sideBySide(a, b) }) != nil)
    }
}
