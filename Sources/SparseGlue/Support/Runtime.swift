/// Process-wide runtime facts and thread control.
///
/// Kernels take an explicit `threads` argument (0 = the OpenMP default set here). SparseGlue keeps
/// OpenBLAS single-threaded (process-wide, from its first BLAS call) and parallelises every GEMM
/// itself over fixed row blocks, so results never depend on a thread count and OpenBLAS's threads
/// do not compete with OpenMP's. On AVX-512 CPUs Debian's OpenBLAS 0.3.21 picks its
/// AVX2 ("Haswell") kernels unless `OPENBLAS_CORETYPE=SkylakeX` is set before the library loads.
public enum Runtime {
    /// Version of the SparseGlue package.
    public static let version = "0.1.0"

    /// Version of the linked C kernels (`sg_version`).
    public static var kernelVersion: String { Kernels.version }

    /// The OpenMP default thread count used when a call passes `threads: 0`.
    public static var defaultThreads: Int { Kernels.maxThreads }

    /// Sets the OpenMP default thread count (≥ 1).
    public static func setDefaultThreads(_ n: Int) throws {
        try require(n >= 1, "thread count must be ≥ 1, got \(n)")
        try Kernels.setDefaultThreads(n)
    }

    /// OpenBLAS's thread count.
    public static var blasThreads: Int { Kernels.blasThreads }

    /// Sets OpenBLAS's own thread count (≥ 1). SparseGlue sets it to 1; raising it makes OpenBLAS
    /// threads compete with SparseGlue's OpenMP threads and, with some OpenBLAS kernels, makes GEMM
    /// rounding depend on the thread count. For programs that use OpenBLAS elsewhere.
    public static func setBLASThreads(_ n: Int) throws {
        try require(n >= 1, "thread count must be ≥ 1, got \(n)")
        try Kernels.setBLASThreads(n)
    }

    /// The core type OpenBLAS detected, e.g. "Haswell" or "SkylakeX".
    public static var blasCoreType: String { Kernels.blasCoreName }

    /// Sets the thread count SparseGlue uses (OpenMP; OpenBLAS stays single-threaded).
    public static func setThreads(_ n: Int) throws {
        Kernels.prepareBLAS()
        try setDefaultThreads(n)
    }
}
