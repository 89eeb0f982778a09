// Building benchmark inputs from real feature sets: the first n keypoints (files sorted by
// detection score make this "the detector with at most n keypoints"), and two images side by
// side (a mosaic pair twice the size that still holds real correspondences).

extension LightGlueFeatures {
    /// The first `n` keypoints (all of them when n ≥ count); scores follow.
    public func prefix(_ n: Int) throws -> LightGlueFeatures {
        try require(n >= 0, "prefix length must be ≥ 0, got \(n)")
        guard n < count else { return self }
        let rows = Array(0..<n)
        var f = try LightGlueFeatures(keypoints: keypoints.gatheringRows(rows), descriptors: descriptors.gatheringRows(rows),
                                      imageWidth: imageWidth, imageHeight: imageHeight)
        f.scores = scores.map { Array($0.prefix(n)) }
        return f
    }

    /// `left`'s keypoints, then `right`'s with x shifted by left's width, in an image of size
    /// (w_left + w_right, max of the heights). Scores are kept when both sides have them.
    public static func sideBySide(_ left: LightGlueFeatures, _ right: LightGlueFeatures) throws -> LightGlueFeatures {
        guard left.descriptors.columns == right.descriptors.columns else {
            throw SparseGlueError.shapeMismatch(
                "side by side needs one descriptor width, got \(left.descriptors.columns) and \(right.descriptors.columns)")
        }
        var shifted = right.keypoints.values
        for i in 0..<right.count { shifted[2 * i] += left.imageWidth }
        let rows = left.count + right.count
        var f = try LightGlueFeatures(
            keypoints: Matrix(rows: rows, columns: 2, values: left.keypoints.values + shifted),
            descriptors: Matrix(rows: rows, columns: left.descriptors.columns,
                                values: left.descriptors.values + right.descriptors.values),
            imageWidth: left.imageWidth + right.imageWidth, imageHeight: Swift.max(left.imageHeight, right.imageHeight))
        if let a = left.scores, let b = right.scores { f.scores = a + b }
        return f
    }
}
