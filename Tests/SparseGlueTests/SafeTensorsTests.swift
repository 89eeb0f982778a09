import Foundation
import Testing
@testable import SparseGlue

/// A safetensors image from a literal header (not padded) and raw data bytes.
private func image(_ header: String, _ data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
    let h = Array(header.utf8)
    var out = Data()
    withUnsafeBytes(of: (declaredLength ?? UInt64(h.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: h)
    out.append(contentsOf: data)
    return out
}

private func corruption(_ data: Data) -> String? {
    if case .corruptFile(let message)? = thrownError({ _ = try SafeTensorsFile(data: data) }) { return message }
    return nil
}

private func fixtureURL(_ path: String) throws -> URL {
    let root = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return root.appendingPathComponent(path)
}

@Suite struct SafeTensorsTests {
    // MARK: round trip

    @Test func roundTripKeepsEveryDtypeShapeAndValue() throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "note": "quote \" backslash \\ tab\t é ✓"])
        let m = try Matrix(rowArrays: [[1, -2.5, 3], [.pi, -0.0, 1e-30]])
        try writer.add("weights.matrix", matrix: m)
        try writer.add("bias", floats: [0.5, -0.25, .infinity, -.greatestFiniteMagnitude], shape: [4])
        try writer.add("h", doubles: [1.0 / 3.0, -2, 1e300], shape: [3])
        try writer.add("idx", int32s: [0, -1, .max, .min], shape: [2, 2])
        try writer.add("big", int64s: [.max, -7], shape: [2])
        try writer.add("scalar", floats: [42], shape: [])
        try writer.add("empty", floats: [], shape: [0, 3])
        try writer.add("nan", floats: [.nan], shape: [1, 1])
        #expect(writer.names == ["weights.matrix", "bias", "h", "idx", "big", "scalar", "empty", "nan"])

        let data = writer.data()
        let headerLength = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(headerLength % 8 == 0)
        #expect(writer.data() == data, "output is deterministic")

        let file = try SafeTensorsFile(data: data)
        #expect(file.names == writer.names)
        #expect(file.metadata == writer.metadata)
        #expect(try file.matrix("weights.matrix") == m)
        #expect(try file.info("weights.matrix") == SafeTensorInfo(name: "weights.matrix", dtype: .f32, shape: [2, 3], dataOffsets: 0..<24))
        #expect(try file.floats("bias") == [0.5, -0.25, .infinity, -.greatestFiniteMagnitude])
        #expect(try file.matrix("bias") == Matrix(rows: 4, columns: 1, values: [0.5, -0.25, .infinity, -.greatestFiniteMagnitude]))
        #expect(try file.doubles("h") == [1.0 / 3.0, -2, 1e300])
        #expect(try file.floats("h") == [Float(1.0 / 3.0), -2, .infinity])
        #expect(try file.ints("idx") == [0, -1, Int(Int32.max), Int(Int32.min)])
        #expect(try file.info("idx").shape == [2, 2])
        #expect(try file.ints("big") == [.max, -7])
        #expect(try file.info("scalar").shape == [])
        #expect(try file.floats("scalar") == [42])
        #expect(try file.floats("empty") == [])
        #expect(try file.matrix("empty") == Matrix(rows: 0, columns: 3))
        #expect(try file.floats("nan")[0].isNaN, "NaN is passed through, not rejected")
        #expect(try file.doubles("bias") == [0.5, -0.25, .infinity, -Double(Float.greatestFiniteMagnitude)])
    }

    @Test func writesAndReadsAFile() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("sparseglue-safetensors-\(UInt64.random(in: 0 ... .max)).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        var writer = SafeTensorsWriter()
        let m = try randomMatrix(33, 17, seed: 3)
        try writer.add("x", matrix: m)
        try writer.write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata.isEmpty)
        #expect(try file.matrix("x") == m)
        #expect(try file.matrix("x", rows: 17, columns: 33).values == m.values)
        let missing = url.appendingPathExtension("missing")
        #expect(thrownError { _ = try SafeTensorsFile(contentsOf: missing) }.map { "\($0)".contains("cannot read") } == true)
    }

    @Test func readsASliceOfLargerData() throws {
        var writer = SafeTensorsWriter()
        try writer.add("a", floats: [1, 2, 3], shape: [3])
        let framed = Data([9, 9, 9]) + writer.data() + Data([7])
        let slice = framed[3..<(framed.count - 1)]
        #expect(try SafeTensorsFile(data: slice).floats("a") == [1, 2, 3])
    }

    @Test func halfAndBFloat16AreDecoded() throws {
        // F16: 1, -2, +Inf, smallest subnormal 2^-24, 65504, NaN; BF16: 1, -0.5.
        let f16: [UInt16] = [0x3C00, 0xC000, 0x7C00, 0x0001, 0x7BFF, 0x7E00]
        let bf16: [UInt16] = [0x3F80, 0xBF00]
        var bytes = [UInt8]()
        for v in f16 + bf16 { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let file = try SafeTensorsFile(data: image(
            #"{"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]}}"#,
            bytes))
        let h = try file.floats("h")
        #expect(Array(h.prefix(5)) == [1, -2, .infinity, 0x1p-24, 65504])
        #expect(h[5].isNaN)
        #expect(try file.floats("b") == [1, -0.5])
        #expect(file.names == ["h", "b"])
    }

    @Test func smallIntegerDtypesAreDecoded() throws {
        let file = try SafeTensorsFile(data: image(
            #"{"u8":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"i8":{"dtype":"I8","shape":[2],"data_offsets":[2,4]},"#
            + #""b":{"dtype":"BOOL","shape":[2],"data_offsets":[4,6]},"i16":{"dtype":"I16","shape":[1],"data_offsets":[6,8]},"#
            + #""u64":{"dtype":"U64","shape":[1],"data_offsets":[8,16]}}"#,
            [255, 1, 0xFF, 0x80, 1, 0, 0x00, 0x80] + [UInt8](repeating: 0xFF, count: 8)))
        #expect(try file.ints("u8") == [255, 1])
        #expect(try file.ints("i8") == [-1, -128])
        #expect(try file.ints("b") == [1, 0])
        #expect(try file.ints("i16") == [-32768])
        #expect(thrownError { _ = try file.ints("u64") } == .invalidArgument("tensor 'u64' holds U64 value 18446744073709551615, over Int.max"))
    }

    // MARK: the committed fixture (LightGlue's sacre_coeur_H ground truth)

    @Test func readsTheCommittedFixture() throws {
        let file = try SafeTensorsFile(contentsOf: fixtureURL("sacre_coeur_H/gt.safetensors"))
        #expect(Set(file.names) == ["H_0to1", "gt_matches0", "gt_matches1"])
        #expect(file.metadata == ["sidecar": "gt.json"])

        // Names, dtypes and shapes as listed by the sidecar.
        let sidecar = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtureURL("sacre_coeur_H/gt.json"))) as? [String: Any]
        let tensors = try #require(sidecar?["tensors"] as? [[String: Any]])
        let dtypes: [String: SafeTensorsDType] = ["float32": .f32, "float64": .f64, "int32": .i32]
        for t in tensors {
            let name = try #require(t["name"] as? String)
            let info = try file.info(name)
            #expect(info.shape == (t["shape"] as? [Int]))
            #expect(info.dtype == dtypes[t["dtype"] as? String ?? ""])
        }

        let h = try file.doubles("H_0to1")
        #expect(h == [0.7076247913196562, 0.21258211933730603, 48.92302405908711,
                      -0.2561727666157312, 0.7326662237532616, 205.11970962624753,
                      -7.273332057702965e-05, -3.3319619291904844e-05, 1.0])
        let hm = try file.matrix("H_0to1")
        #expect(hm.rows == 3 && hm.columns == 3)
        #expect(hm[0, 2] == Float(48.92302405908711) && hm[2, 2] == 1)

        let m0 = try file.ints("gt_matches0"), m1 = try file.ints("gt_matches1")
        #expect(Array(m0.prefix(12)) == [1, 18, 15, 6, 0, 3, 37, 5, 13, 2, 104, 28])
        #expect(Array(m0.suffix(4)) == [968, -1, -1, -1])
        #expect(Array(m1.prefix(4)) == [4, 0, 9, 5] && m1.last == 924)
        #expect(m0.count == 1024 && m0.filter { $0 >= 0 }.count == 750 && m0.reduce(0, +) == 334613)
        #expect(m1.reduce(0, +) == 325504)
        // The two ground-truth lists are mutual.
        for (i, j) in m0.enumerated() where j >= 0 { #expect(m1[j] == i) }

        #expect(thrownError { _ = try file.floats("gt_matches0") }
                == .invalidArgument("tensor 'gt_matches0' has dtype I32; floats(_:) reads F32, F64, F16 and BF16"))
        #expect(thrownError { _ = try file.ints("H_0to1") } != nil)
        #expect(thrownError { _ = try file.floats("kpts0") }
                == .invalidArgument("gt.safetensors has no tensor named 'kpts0' (3 tensors)"))
    }

    @Test func everyTruncationOfTheFixtureThrows() throws {
        let data = try Data(contentsOf: fixtureURL("sacre_coeur_H/gt.safetensors"))
        for length in [0, 1, 7, 8, 9, 100, 255, 256, 257, 300, 4000, data.count - 8, data.count - 1] {
            #expect(corruption(data.prefix(length)) != nil, "prefix of \(length) bytes")
        }
        // Every prefix, cheaply: none may crash, all must throw.
        for length in stride(from: 0, to: data.count, by: 7) {
            #expect(thrownError { _ = try SafeTensorsFile(data: data.prefix(length)) } != nil)
        }
        #expect(corruption(data + Data([0])) != nil, "a trailing byte is not covered by any tensor")
    }

    @Test func randomHeaderDamageNeverCrashes() throws {
        let data = try Data(contentsOf: fixtureURL("sacre_coeur_H/gt.safetensors"))
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<1500 {
            var damaged = data
            let position = Int(rng.next() % 264)  // the length field and the 256-byte header
            damaged[position] = UInt8(truncatingIfNeeded: rng.next())
            _ = try? SafeTensorsFile(data: damaged)  // throwing or not, it must not trap
        }
    }

    // MARK: corruption, each a precise thrown error

    @Test func headerLengthIsChecked() throws {
        #expect(corruption(Data([1, 2, 3])) == "safetensors data: 3 bytes, too short for the 8-byte header length (truncated file?)")
        #expect(corruption(image("{}", declaredLength: 3)) == "safetensors data: header length 3 exceeds the 2 bytes after the length field (truncated file?)")
        #expect(corruption(image("{}", declaredLength: .max))?.contains("header length 18446744073709551615 exceeds") == true)
        #expect(corruption(image("", declaredLength: 0)) != nil)
        #expect(corruption(image("[]")) == "safetensors data: the 2-byte header is not a JSON object (it must start with '{')")
        #expect(try SafeTensorsFile(data: image("{}")).names.isEmpty)
        #expect(try SafeTensorsFile(data: image("{}    ")).names.isEmpty, "trailing padding is allowed")
    }

    @Test func malformedJSONIsRejected() {
        for bad in [#"{"a": {"dtype": "F32","#, "{not json}", #"{"a": 1}"#, #"{"a": {"dtype": "F32", "shape": [1]}}"#,
                    #"{"a": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}"#,
                    #"{"__metadata__": {"k": 1}}"#, #"{"a": {"dtype": 3, "shape": [], "data_offsets": [0, 4]}}"#,
                    "{\"a\": \u{1}}"] {
            #expect(corruption(image(bad, [0, 0, 0, 0]))?.contains("malformed JSON header") == true, "\(bad)")
        }
        #expect(corruption(image(#"{"a": {"dtype": "F32", "shape": [1]}}"#))?.contains("data_offsets") == true)
    }

    @Test func unknownDtypeIsRejected() {
        #expect(corruption(image(#"{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]))
                == "safetensors data: tensor 'a': unknown dtype 'F33'")
        #expect(corruption(image(#"{"a":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0])) != nil)
    }

    @Test func shapeMustMatchTheByteSpan() {
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#, .init(repeating: 0, count: 20)))
                == "safetensors data: tensor 'a': dtype F32 × shape [2, 3] needs 24 bytes but data_offsets [0, 20] span 20")
        #expect(corruption(image(#"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]))?.contains("needs 8 bytes") == true)
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]))
                == "safetensors data: tensor 'a': negative dimension in shape [-1]")
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]))
                == "safetensors data: tensor 'a': shape [4294967296, 4294967296] overflows")
    }

    @Test func offsetsMustStayInTheBuffer() {
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0]))
                == "safetensors data: tensor 'a': data_offsets [0, 8] run past the 4-byte data buffer (truncated file?)")
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, .init(repeating: 0, count: 8)))
                == "safetensors data: tensor 'a': data_offsets [8, 4] are not 0 ≤ begin ≤ end")
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, [0, 0, 0, 0])) != nil)
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#, [0, 0, 0, 0]))
                == "safetensors data: tensor 'a': data_offsets [0, 4, 8] must be [begin, end]")
    }

    @Test func offsetsMustTileTheBuffer() {
        let zeros = [UInt8](repeating: 0, count: 24)
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#, zeros))
                == "safetensors data: tensors 'a' [0, 16] and 'b' [8, 24] overlap")
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, Array(zeros.prefix(8))))
                == "safetensors data: tensors 'a' [0, 8] and 'b' [0, 8] overlap")
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}"#, zeros))
                == "safetensors data: bytes [8, 16) of the data buffer belong to no tensor (data_offsets must tile the buffer)")
        #expect(corruption(image(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, zeros))
                == "safetensors data: the tensors cover 8 bytes of the 24-byte data buffer (data_offsets must tile the buffer)")
        // Out of order in the header is fine as long as the ranges tile; empty tensors take no bytes.
        let file = try? SafeTensorsFile(data: image(
            #"{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"e":{"dtype":"I32","shape":[0],"data_offsets":[8,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            Array(zeros.prefix(16))))
        #expect(file?.names == ["a", "e", "b"])
    }

    @Test func accessorsCheckDtypeAndRank() throws {
        var writer = SafeTensorsWriter()
        try writer.add("cube", floats: [Float](repeating: 1, count: 8), shape: [2, 2, 2])
        try writer.add("i", int32s: [1, 2], shape: [2])
        let file = try SafeTensorsFile(data: writer.data())
        #expect(thrownError { _ = try file.matrix("cube") }
                == .shapeMismatch("tensor 'cube' has shape [2, 2, 2]; matrix(_:) takes 1-D or 2-D tensors"))
        #expect(try file.matrix("cube", rows: 4, columns: 2).count == 8)
        #expect(thrownError { _ = try file.matrix("cube", rows: 3, columns: 3) } != nil)
        #expect(thrownError { _ = try file.matrix("i") } != nil, "integer tensors are not silently converted")
        #expect(thrownError { _ = try file.ints("cube") } != nil)
        #expect(!file.contains("x") && file.contains("cube"))
    }

    @Test func writerValidatesItsInput() throws {
        var writer = SafeTensorsWriter()
        try writer.add("a", floats: [1, 2], shape: [2])
        #expect(thrownError { try writer.add("a", floats: [1], shape: [1]) } == .invalidArgument("a tensor named 'a' was already added"))
        #expect(thrownError { try writer.add("b", floats: [1, 2, 3], shape: [2, 2]) }
                == .shapeMismatch("tensor 'b': 3 values cannot fill shape [2, 2]"))
        #expect(thrownError { try writer.add("c", floats: [], shape: [-1, 0]) } != nil)
        #expect(thrownError { try writer.add("__metadata__", floats: [1], shape: [1]) } != nil)
        #expect(writer.names == ["a"])
    }
}
