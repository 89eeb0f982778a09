#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The safetensors format: an 8-byte little-endian u64 N, then N bytes of UTF-8 JSON
//
//     {"__metadata__": {"key": "value", …},               (optional, string → string)
//      "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, …}
//
// (possibly padded with trailing spaces), then the data buffer. Offsets are relative to the start
// of the data buffer; every tensor is stored row-major, little-endian, and the tensors' byte ranges
// must tile the buffer exactly: no gaps, no overlaps, nothing left over.

/// The element types of the safetensors format, spelled as in the header.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case i64 = "I64", u64 = "U64", f64 = "F64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .i64, .u64, .f64: return 8
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafeTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first (row-major). `[]` is a scalar (one element).
    public let shape: [Int]
    /// The tensor's bytes within the data buffer (the header's `data_offsets`).
    public let dataOffsets: Range<Int>

    /// Number of elements: the product of `shape` (1 for a scalar).
    public var count: Int { shape.reduce(1, *) }
}

/// A safetensors file, validated when opened; tensors are decoded on request.
///
/// Opening checks the whole header: the header length against the file size, the JSON, every
/// dtype, every shape against its byte span, and that the tensors' byte ranges tile the data buffer
/// exactly (sorted by offset: contiguous, non-overlapping, covering it to the last byte). Any
/// violation is a thrown `SparseGlueError.corruptFile` naming the tensor and the numbers. Values are
/// not checked for NaN/Inf; that is left to callers (`Matrix.checkFinite`).
public struct SafeTensorsFile: Sendable {
    /// Headers longer than this are refused (the reference implementation's limit, 100 MB).
    public static let maximumHeaderLength = 100_000_000

    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    /// Tensor names in data-buffer order (the order a writer stored them in).
    public let names: [String]

    private let tensors: [String: SafeTensorInfo]
    private let bytes: Data
    /// Offset of the data buffer from the start of `bytes`.
    private let dataStart: Int
    private let source: String

    /// Opens the file at `url` (memory-mapped, read once) and validates its header.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SparseGlueError.invalidArgument("cannot read safetensors file \(url.path): \(error)")
        }
        try self.init(data: data, source: url.lastPathComponent)
    }

    /// Reads a safetensors image held in memory and validates its header.
    public init(data: Data) throws {
        try self.init(data: data, source: "safetensors data")
    }

    private init(data: Data, source: String) throws {
        // Work on a zero-based copy of the reference (a slice of a larger Data keeps its indices).
        let bytes = data.startIndex == 0 ? data : Data(data)
        func corrupt(_ message: String) -> SparseGlueError { .corruptFile("\(source): \(message)") }

        let total = bytes.count
        guard total >= 8 else {
            throw corrupt("\(total) bytes, too short for the 8-byte header length (truncated file?)")
        }
        let declared = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard declared <= UInt64(total - 8) else {
            throw corrupt("header length \(declared) exceeds the \(total - 8) bytes after the length field (truncated file?)")
        }
        guard declared <= UInt64(Self.maximumHeaderLength) else {
            throw corrupt("header length \(declared) is over the \(Self.maximumHeaderLength)-byte limit")
        }
        let headerLength = Int(declared)
        guard headerLength >= 2, bytes[8] == UInt8(ascii: "{") else {
            throw corrupt("the \(headerLength)-byte header is not a JSON object (it must start with '{')")
        }
        let header: RawHeader
        do {
            header = try JSONDecoder().decode(RawHeader.self, from: bytes[8..<(8 + headerLength)])
        } catch let error as SparseGlueError {
            throw corrupt("\(error)")
        } catch let error as DecodingError {
            throw corrupt("malformed JSON header: \(Self.describe(error))")
        } catch {
            throw corrupt("malformed JSON header: \(error)")
        }

        let dataStart = 8 + headerLength
        let bufferSize = total - dataStart
        var infos = [SafeTensorInfo]()
        infos.reserveCapacity(header.entries.count)
        for (name, entry) in header.entries {
            guard let dtype = SafeTensorsDType(rawValue: entry.dtype) else {
                throw corrupt("tensor '\(name)': unknown dtype '\(entry.dtype)'")
            }
            guard entry.shape.allSatisfy({ $0 >= 0 }) else {
                throw corrupt("tensor '\(name)': negative dimension in shape \(entry.shape)")
            }
            var count = 1
            for d in entry.shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow else { throw corrupt("tensor '\(name)': shape \(entry.shape) overflows") }
                count = product
            }
            let (needed, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow else { throw corrupt("tensor '\(name)': shape \(entry.shape) overflows") }
            guard entry.dataOffsets.count == 2 else {
                throw corrupt("tensor '\(name)': data_offsets \(entry.dataOffsets) must be [begin, end]")
            }
            let begin = entry.dataOffsets[0], end = entry.dataOffsets[1]
            guard begin >= 0, begin <= end else {
                throw corrupt("tensor '\(name)': data_offsets [\(begin), \(end)] are not 0 ≤ begin ≤ end")
            }
            guard end <= bufferSize else {
                throw corrupt("tensor '\(name)': data_offsets [\(begin), \(end)] run past the \(bufferSize)-byte data buffer (truncated file?)")
            }
            guard end - begin == needed else {
                throw corrupt("tensor '\(name)': dtype \(dtype.rawValue) × shape \(entry.shape) needs \(needed) bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
            }
            infos.append(SafeTensorInfo(name: name, dtype: dtype, shape: entry.shape, dataOffsets: begin..<end))
        }

        // The byte ranges, sorted, must tile 0..<bufferSize.
        infos.sort {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var cursor = 0
        var previous: SafeTensorInfo?
        for info in infos {
            let r = info.dataOffsets
            if r.lowerBound < cursor {
                let p = previous.map { "'\($0.name)' [\($0.dataOffsets.lowerBound), \($0.dataOffsets.upperBound)]" } ?? "?"
                throw corrupt("tensors \(p) and '\(info.name)' [\(r.lowerBound), \(r.upperBound)] overlap")
            }
            if r.lowerBound > cursor {
                throw corrupt("bytes [\(cursor), \(r.lowerBound)) of the data buffer belong to no tensor (data_offsets must tile the buffer)")
            }
            cursor = r.upperBound
            if !r.isEmpty { previous = info }
        }
        guard cursor == bufferSize else {
            throw corrupt("the tensors cover \(cursor) bytes of the \(bufferSize)-byte data buffer (data_offsets must tile the buffer)")
        }

        self.metadata = header.metadata
        self.names = infos.map(\.name)
        self.tensors = Dictionary(uniqueKeysWithValues: infos.map { ($0.name, $0) })
        self.bytes = bytes
        self.dataStart = dataStart
        self.source = source
    }

    /// Whether a tensor called `name` exists.
    public func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// The dtype, shape and byte range of tensor `name`; `.invalidArgument` if there is none.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = tensors[name] else {
            throw SparseGlueError.invalidArgument("\(source) has no tensor named '\(name)' (\(names.count) tensors)")
        }
        return info
    }

    /// Tensor `name` as `Float`s, row-major. Reads F32 exactly and converts F64, F16 and BF16
    /// (F64 rounds to nearest). Other dtypes throw `.invalidArgument` (use `ints(_:)`).
    public func floats(_ name: String) throws -> [Float] {
        let info = try info(name)
        switch info.dtype {
        case .f32:
            #if _endian(little)
            if info.count == 0 { return [] }
            return [Float](unsafeUninitializedCapacity: info.count) { buffer, initialized in
                bytes.withUnsafeBytes { raw in
                    let start = dataStart + info.dataOffsets.lowerBound
                    // A byte copy: no alignment assumption about the mapped file.
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + info.dataOffsets.count)]))
                }
                initialized = info.count
            }
            #else
            return decode(info) { Float(bitPattern: UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self))) }
            #endif
        case .f64:
            return decode(info) { Float(Self.double(at: $1, in: $0)) }
        case .f16:
            return decode(info) { Self.floatFromHalf(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt16.self))) }
        case .bf16:
            return decode(info) {
                Float(bitPattern: UInt32(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt16.self))) << 16)
            }
        default:
            throw SparseGlueError.invalidArgument(
                "tensor '\(name)' has dtype \(info.dtype.rawValue); floats(_:) reads F32, F64, F16 and BF16")
        }
    }

    /// Tensor `name` as `Double`s, row-major (F64 exactly; F32, F16 and BF16 widened).
    public func doubles(_ name: String) throws -> [Double] {
        let info = try info(name)
        if info.dtype == .f64 { return decode(info) { Self.double(at: $1, in: $0) } }
        return try floats(name).map(Double.init)
    }

    /// Tensor `name` as `Int`s, row-major: BOOL (0/1), U8, I8, I16, U16, I32, U32, I64, and U64
    /// values up to `Int.max`. Floating-point dtypes throw `.invalidArgument`.
    public func ints(_ name: String) throws -> [Int] {
        let info = try info(name)
        switch info.dtype {
        case .bool, .u8: return decode(info) { Int($0.load(fromByteOffset: $1, as: UInt8.self)) }
        case .i8: return decode(info) { Int($0.load(fromByteOffset: $1, as: Int8.self)) }
        case .i16: return decode(info) { Int(Int16(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int16.self))) }
        case .u16: return decode(info) { Int(UInt16(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt16.self))) }
        case .i32: return decode(info) { Int(Int32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int32.self))) }
        case .u32: return decode(info) { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self))) }
        case .i64: return decode(info) { Int(Int64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: Int64.self))) }
        case .u64:
            let values = decode(info) { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: $1, as: UInt64.self)) }
            guard let big = values.first(where: { $0 > UInt64(Int.max) }) else { return values.map { Int($0) } }
            throw SparseGlueError.invalidArgument("tensor '\(name)' holds U64 value \(big), over Int.max")
        default:
            throw SparseGlueError.invalidArgument(
                "tensor '\(name)' has dtype \(info.dtype.rawValue); ints(_:) reads integer and BOOL dtypes (use floats(_:))")
        }
    }

    /// Tensor `name` as a `Matrix` (values through `floats(_:)`): a 2-D tensor `[r, c]` as r×c,
    /// a 1-D tensor `[n]` as an n×1 column. Other ranks throw `.shapeMismatch`; reshape them with
    /// `matrix(_:rows:columns:)`.
    public func matrix(_ name: String) throws -> Matrix {
        let info = try info(name)
        switch info.shape.count {
        case 2: return try Matrix(rows: info.shape[0], columns: info.shape[1], values: floats(name))
        case 1: return try Matrix(rows: info.shape[0], columns: 1, values: floats(name))
        default:
            throw SparseGlueError.shapeMismatch(
                "tensor '\(name)' has shape \(info.shape); matrix(_:) takes 1-D or 2-D tensors")
        }
    }

    /// Tensor `name` reshaped to rows×columns (row-major); throws `.shapeMismatch` unless it has
    /// exactly rows·columns elements.
    public func matrix(_ name: String, rows: Int, columns: Int) throws -> Matrix {
        let info = try info(name)
        guard rows >= 0, columns >= 0, info.count == rows * columns else {
            throw SparseGlueError.shapeMismatch(
                "tensor '\(name)' of shape \(info.shape) (\(info.count) values) cannot be a \(rows)×\(columns) matrix")
        }
        return try Matrix(rows: rows, columns: columns, values: floats(name))
    }

    // MARK: decoding

    private func decode<T>(_ info: SafeTensorInfo, _ element: (UnsafeRawBufferPointer, Int) -> T) -> [T] {
        bytes.withUnsafeBytes { raw in
            let base = dataStart + info.dataOffsets.lowerBound, size = info.dtype.byteSize
            var out = [T]()
            out.reserveCapacity(info.count)
            for i in 0..<info.count { out.append(element(raw, base + i * size)) }
            return out
        }
    }

    private static func double(at offset: Int, in raw: UnsafeRawBufferPointer) -> Double {
        Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
    }

    /// IEEE 754 binary16 → Float (exact; subnormals, ±Inf and NaN included).
    static func floatFromHalf(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exponent = Int((h >> 10) & 0x1F), mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
    }

    private static func describe(_ error: DecodingError) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return (path.isEmpty ? "" : "at \(path): ") + context.debugDescription
        }
        switch error {
        case .dataCorrupted(let c): return at(c)
        case .keyNotFound(let key, let c): return "missing field '\(key.stringValue)' " + at(c)
        case .typeMismatch(_, let c): return at(c)
        case .valueNotFound(_, let c): return at(c)
        @unknown default: return "\(error)"
        }
    }
}

// MARK: header decoding

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private struct RawEntry: Decodable {
    let dtype: String
    let shape: [Int]
    let dataOffsets: [Int]

    enum CodingKeys: String, CodingKey {
        case dtype, shape
        case dataOffsets = "data_offsets"
    }
}

private struct RawHeader: Decodable {
    var metadata: [String: String] = [:]
    var entries: [(String, RawEntry)] = []

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                metadata = try container.decode([String: String].self, forKey: key)
            } else {
                entries.append((key.stringValue, try container.decode(RawEntry.self, forKey: key)))
            }
        }
    }
}

/// Builds a safetensors file: add tensors (stored in the order added), set `metadata`, then
/// `data()` or `write(to:)`. The output is deterministic: `__metadata__` first with sorted keys,
/// then the tensors in insertion order, the header padded with spaces to a multiple of 8 bytes.
public struct SafeTensorsWriter: Sendable {
    /// Written as the header's `__metadata__` (omitted when empty).
    public var metadata: [String: String]

    private var entries: [(name: String, dtype: SafeTensorsDType, shape: [Int], bytes: [UInt8])] = []
    private var nameSet: Set<String> = []

    public init(metadata: [String: String] = [:]) { self.metadata = metadata }

    /// Tensor names in the order added.
    public var names: [String] { entries.map(\.name) }

    public mutating func add(_ name: String, floats: [Float], shape: [Int]) throws {
        try append(name, .f32, shape, floats.count, Self.littleEndianBytes(floats.map(\.bitPattern)))
    }

    public mutating func add(_ name: String, doubles: [Double], shape: [Int]) throws {
        try append(name, .f64, shape, doubles.count, Self.littleEndianBytes(doubles.map(\.bitPattern)))
    }

    public mutating func add(_ name: String, int32s: [Int32], shape: [Int]) throws {
        try append(name, .i32, shape, int32s.count, Self.littleEndianBytes(int32s))
    }

    public mutating func add(_ name: String, int64s: [Int64], shape: [Int]) throws {
        try append(name, .i64, shape, int64s.count, Self.littleEndianBytes(int64s))
    }

    /// A matrix as an F32 tensor of shape `[rows, columns]`.
    public mutating func add(_ name: String, matrix: Matrix) throws {
        try add(name, floats: matrix.values, shape: [matrix.rows, matrix.columns])
    }

    /// The complete file image.
    public func data() -> Data {
        var header = "{"
        var fields = [String]()
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }
                .map { Self.jsonString($0.key) + ":" + Self.jsonString($0.value) }
            fields.append("\"__metadata__\":{" + pairs.joined(separator: ",") + "}")
        }
        var offset = 0
        for e in entries {
            let shape = e.shape.map(String.init).joined(separator: ",")
            fields.append(Self.jsonString(e.name) + ":{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(shape)],"
                          + "\"data_offsets\":[\(offset),\(offset + e.bytes.count)]}")
            offset += e.bytes.count
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(UInt8(ascii: " ")) }

        var out = Data()
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for e in entries { out.append(contentsOf: e.bytes) }
        return out
    }

    /// Writes `data()` to `url` atomically (a temporary file renamed into place).
    public func write(to url: URL) throws {
        do {
            try data().write(to: url, options: .atomic)
        } catch {
            throw SparseGlueError.invalidArgument("cannot write safetensors file \(url.path): \(error)")
        }
    }

    private mutating func append(_ name: String, _ dtype: SafeTensorsDType, _ shape: [Int], _ count: Int,
                                 _ bytes: [UInt8]) throws {
        try require(name != "__metadata__", "'__metadata__' is reserved and cannot name a tensor")
        try require(!nameSet.contains(name), "a tensor named '\(name)' was already added")
        try require(shape.allSatisfy { $0 >= 0 }, "tensor '\(name)': negative dimension in shape \(shape)")
        var expected = 1
        for d in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            try require(!overflow, "tensor '\(name)': shape \(shape) overflows")
            expected = product
        }
        guard expected == count else {
            throw SparseGlueError.shapeMismatch("tensor '\(name)': \(count) values cannot fill shape \(shape)")
        }
        nameSet.insert(name)
        entries.append((name, dtype, shape, bytes))
    }

    private static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        #if _endian(little)
        return values.withUnsafeBytes { Array($0) }
        #else
        var out = [UInt8]()
        out.reserveCapacity(values.count * MemoryLayout<T>.size)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        return out
        #endif
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, the rest UTF-8.
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
