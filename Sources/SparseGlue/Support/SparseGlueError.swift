/// Every failure SparseGlue reports. Kernel status codes are translated into these in one place
/// (`Kernels.check`), so callers never see raw C codes.
public enum SparseGlueError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A size, count or option is out of range (k ≤ 0, k ≥ n, empty set, unknown option, …).
    case invalidArgument(String)
    /// Shapes do not fit together (mismatched dimensions, heads not dividing d, wrong buffer size).
    case shapeMismatch(String)
    /// An input holds NaN or ±Inf.
    case nonFiniteInput(String)
    /// A CSR graph breaks an invariant (row pointers, column order, index range).
    case malformedGraph(String)
    /// The operation would need more memory than the caller's budget allows.
    case memoryBudgetExceeded(requiredBytes: Int, budgetBytes: Int, what: String)
    /// A kernel could not allocate scratch memory.
    case outOfMemory(String)
    /// A kernel failed in a way the Swift layer should have prevented (a bug: please report).
    case kernelFailure(function: String, code: Int, message: String)
    /// A file's contents break its format (a safetensors header that is too long, malformed JSON,
    /// an unknown dtype, data offsets that do not tile the data buffer, a truncated file, …).
    case corruptFile(String)

    public var description: String {
        switch self {
        case .invalidArgument(let m): return "invalid argument: \(m)"
        case .shapeMismatch(let m): return "shape mismatch: \(m)"
        case .nonFiniteInput(let m): return "non-finite input: \(m)"
        case .malformedGraph(let m): return "malformed graph: \(m)"
        case let .memoryBudgetExceeded(required, budget, what):
            return "\(what) needs \(required) bytes, over the memory budget of \(budget) bytes"
        case .outOfMemory(let m): return "out of memory: \(m)"
        case let .kernelFailure(function, code, message):
            return "kernel \(function) failed with status \(code): \(message)"
        case .corruptFile(let m): return "corrupt file: \(m)"
        }
    }
}

/// Throws `.invalidArgument` unless `condition` holds. Keeps preconditions one line each.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw SparseGlueError.invalidArgument(message()) }
}
