// The keypoint features file `sparseglue match` reads: safetensors with `keypoints` [N, 2]
// (pixels, x then y), `descriptors` [N, D], `image_size` [2] (width, height), optional `scores` [N].
import Foundation

extension LightGlueFeatures {
    /// Reads a features file; every problem (missing tensor, wrong shape or dtype, non-finite
    /// value, bad image size) is a thrown error naming the file.
    public init(contentsOf url: URL) throws {
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(contentsOf: url)
        } catch SparseGlueError.corruptFile(let message) {
            throw SparseGlueError.corruptFile("features file \(url.path): \(message)")
        }
        func context<T>(_ body: () throws -> T) throws -> T {
            do { return try body() } catch let error as SparseGlueError {
                throw SparseGlueError.invalidArgument("features file \(url.path): \(error)")
            }
        }
        try context {
            for name in ["keypoints", "descriptors", "image_size"] where !file.contains(name) {
                throw SparseGlueError.invalidArgument(
                    "missing tensor '\(name)' (a features file holds keypoints [N,2], descriptors [N,D], image_size [2], optional scores [N])")
            }
            let k = try file.info("keypoints"), d = try file.info("descriptors"), s = try file.info("image_size")
            guard k.shape.count == 2, k.shape[1] == 2 else {
                throw SparseGlueError.shapeMismatch("keypoints must be [N, 2], got \(k.shape)")
            }
            guard d.shape.count == 2, d.shape[0] == k.shape[0] else {
                throw SparseGlueError.shapeMismatch("descriptors must be [N, D] with N = \(k.shape[0]), got \(d.shape)")
            }
            guard s.shape == [2] else {
                throw SparseGlueError.shapeMismatch("image_size must be [2] (width, height), got \(s.shape)")
            }
            if file.contains("scores") {
                let sc = try file.info("scores")
                guard sc.shape == [k.shape[0]] else {
                    throw SparseGlueError.shapeMismatch("scores must be [\(k.shape[0])], got \(sc.shape)")
                }
            }
        }
        let size = try context { try file.floats("image_size") }
        let keypoints = try context { try file.matrix("keypoints") }
        let descriptors = try context { try file.matrix("descriptors") }
        let scores = try file.contains("scores") ? context { try file.floats("scores") } : nil
        do {
            try self.init(keypoints: keypoints, descriptors: descriptors, imageWidth: size[0], imageHeight: size[1])
        } catch let error as SparseGlueError {
            throw SparseGlueError.invalidArgument("features file \(url.path): \(error)")
        }
        if let scores {
            try context { try Matrix(rows: scores.count, columns: 1, values: scores).checkFinite("scores") }
            self.scores = scores
        }
    }

    /// The features as a safetensors file image (the format `init(contentsOf:)` reads).
    public func safetensorsData(metadata: [String: String] = [:]) throws -> Data {
        var w = SafeTensorsWriter(metadata: metadata)
        try w.add("keypoints", matrix: keypoints)
        try w.add("descriptors", matrix: descriptors)
        try w.add("image_size", floats: [imageWidth, imageHeight], shape: [2])
        if let scores { try w.add("scores", floats: scores, shape: [scores.count]) }
        return w.data()
    }
}
