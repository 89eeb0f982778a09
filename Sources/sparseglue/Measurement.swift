import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock statistics of repeated runs, in milliseconds.
struct Timing {
    let median: Double
    let min: Double
    let max: Double

    /// Runs `body` once to warm up, then `repeats` times.
    static func measure(repeats: Int, _ body: () throws -> Void) rethrows -> Timing {
        try body()
        var times: [Double] = []
        for _ in 0..<Swift.max(repeats, 1) {
            let start = nowSeconds()
            try body()
            times.append((nowSeconds() - start) * 1000)
        }
        times.sort()
        let mid = times.count / 2
        let median = times.count % 2 == 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2
        return Timing(median: median, min: times.first!, max: times.last!)
    }
}

/// Peak memory a call adds above what the process holds before it, from Linux's resident-set
/// high-water mark: writing "5" to /proc/self/clear_refs resets VmHWM to the current RSS, so after
/// the call VmHWM − VmRSS(before) is its peak extra memory (pages actually touched).
enum PeakMemory {
    static var isAvailable: Bool {
        FileManager.default.isWritableFile(atPath: "/proc/self/clear_refs")
    }

    /// glibc keeps freed heap blocks resident (and raises its mmap threshold after large frees), so
    /// the heap is trimmed before each measurement: malloc_trim returns free pages to the kernel and
    /// the baseline RSS is what is really live. Looked up with dlsym because Swift's Glibc module
    /// omits malloc.h. (Pinning the mmap threshold instead would distort the timings.)
    private static func trimHeap() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") {
            _ = unsafeBitCast(sym, to: MallocTrim.self)(0)
        }
    }

    /// Bytes of peak extra resident memory of one run of `body`, or nil where unsupported.
    static func extraBytes(_ body: () throws -> Void) rethrows -> Int? {
        guard isAvailable else {
            try body()
            return nil
        }
        trimHeap()

        guard reset(), let before = statusKilobytes("VmRSS") else {
            try body()
            return nil
        }
        try body()
        guard let peak = statusKilobytes("VmHWM") else { return nil }
        return Swift.max(0, peak - before) * 1024
    }

    private static func reset() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data("5".utf8))) != nil
    }

    private static func statusKilobytes(_ key: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

/// A one-line progress bar on stderr (nothing when stderr is not a terminal and CI is set).
struct ProgressBar {
    let total: Int
    private(set) var done = 0
    private let enabled = isatty(STDERR_FILENO) == 1 || ProcessInfo.processInfo.environment["CI"] == nil

    init(total: Int) { self.total = Swift.max(total, 1) }

    mutating func step(_ label: String) {
        done += 1
        guard enabled else { return }
        let width = 30
        let filled = Swift.min(width, done * width / total)
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let text = "\r[\(bar)] \(done)/\(total) \(label)".padding(toLength: 78, withPad: " ", startingAt: 0)
        FileHandle.standardError.write(Data(text.utf8))
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data(("\r" + String(repeating: " ", count: 78) + "\r").utf8))
    }
}

/// Facts about this CPU that decide which BLAS kernels are fast.
enum CPUInfo {
    static var flags: Set<Substring> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return [] }
        return Set(line.split(separator: " "))
    }

    static var hasAVX512: Bool { flags.contains("avx512f") && flags.contains("avx512bw") && flags.contains("avx512vl") }

    static var modelName: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let value = line.split(separator: ":", maxSplits: 1).last else { return "unknown CPU" }
        return value.trimmingCharacters(in: .whitespaces)
    }
}

/// Debian's OpenBLAS 0.3.21 treats AVX-512 CPUs as "Haswell" (AVX2 kernels). OpenBLAS reads
/// OPENBLAS_CORETYPE once, when it loads — before any Swift code runs — so the CLI re-executes
/// itself with OPENBLAS_CORETYPE=SkylakeX when the CPU has AVX-512 and the variable is unset.
/// SPARSEGLUE_NO_REEXEC=1 turns this off.
enum BLASCoreSelection {
    static func reexecWithFastKernelsIfNeeded() {
        let env = ProcessInfo.processInfo.environment
        guard CPUInfo.hasAVX512, env["SPARSEGLUE_NO_REEXEC"] == nil else { return }
        if let forced = env["OPENBLAS_CORETYPE"] {
            // An explicit choice is respected; say what it costs when it is slower than the CPU allows.
            if !["skylakex", "cooperlake", "sapphirerapids"].contains(forced.lowercased()) {
                FileHandle.standardError.write(Data(("note: OPENBLAS_CORETYPE=\(forced) forces non-AVX-512 BLAS kernels on "
                    + "this AVX-512 CPU; unset it (or set SkylakeX) for faster sgemm.\n").utf8))
            }
            return
        }
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
        setenv("SPARSEGLUE_NO_REEXEC", "1", 1)   // never loop, whatever OpenBLAS makes of it
        let args = CommandLine.arguments
        var cArgs = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cArgs)
        // execv only returns on failure: carry on with the kernels we have.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
