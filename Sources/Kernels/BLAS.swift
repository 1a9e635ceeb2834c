// OpenBLAS, loaded at run time so that Kiln chooses its kernels.
//
// Debian's OpenBLAS 0.3.21 is built with DYNAMIC_ARCH: it carries kernels for many CPUs and picks
// one in a library constructor, from CPUID, or from OPENBLAS_CORETYPE when that is set. On CPUs
// newer than the release it can fall back to its "Prescott" (SSE3) kernels, 4-5x slower than
// "SkylakeX" (../shared/docs/SWIFT-NOTES.md). The constructor runs when the library is loaded,
// before `main` for a linked library, so Kiln does not link OpenBLAS: it reads the CPU's features,
// sets OPENBLAS_CORETYPE, then `dlopen`s the library and looks up the few symbols it uses.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What was loaded and why: for `tune info`, logs and run reports.
public struct BLASInfo: Sendable, Codable, Equatable {
    /// Where the kernel choice came from.
    public enum CoreTypeSource: String, Sendable, Codable {
        /// Kiln chose it from the CPU's feature flags.
        case cpuFeatures
        /// The user set OPENBLAS_CORETYPE; Kiln left it alone.
        case environment
        /// Nothing was set: OpenBLAS ran its own CPU detection.
        case openBLASDefault
        /// The library was already in the process (linked by something else), so its kernels were
        /// fixed before Kiln could choose.
        case alreadyLoaded
    }

    /// The path given to `dlopen`.
    public var libraryPath: String
    /// The kernels in use, as OpenBLAS names them (`openblas_get_corename`), e.g. "SkylakeX".
    public var coreName: String
    /// The OPENBLAS_CORETYPE value in effect when the library loaded, nil when none was.
    public var requestedCoreType: String?
    public var coreTypeSource: CoreTypeSource
    /// OpenBLAS's build description (`openblas_get_config`), e.g.
    /// "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64".
    public var config: String
    /// Threads OpenBLAS uses for one call, when this value was read.
    public var threads: Int
    /// The CPU flags that decided the choice (empty when the CPU did not decide it).
    public var cpuFlags: [String]
}

/// Why the library could not be used. Each message names the library.
public enum BLASError: Error, CustomStringConvertible, Equatable, Sendable {
    case cannotLoad(path: String, reason: String)
    case missingSymbol(path: String, symbol: String)
    case alreadyLoaded(loaded: String, requested: String)

    public var description: String {
        switch self {
        case let .cannotLoad(path, reason):
            return "cannot load OpenBLAS from \(path): \(reason) (on Debian: apt-get install libopenblas0-pthread)"
        case let .missingSymbol(path, symbol):
            return "\(path) has no symbol \(symbol): is it OpenBLAS?"
        case let .alreadyLoaded(loaded, requested):
            return "OpenBLAS is already loaded from \(loaded); cannot load \(requested) as well"
        }
    }
}

/// Which OpenBLAS kernels suit a CPU, decided from its feature flags alone (testable without
/// the library).
public struct BLASCoreChoice: Sendable, Equatable {
    /// The OPENBLAS_CORETYPE value to set, nil to leave OpenBLAS to detect the CPU itself.
    public var coreType: String?
    public var source: BLASInfo.CoreTypeSource
    /// The flags that decided it.
    public var flags: [String]

    /// Kernel families, best first, with the flags each one's code needs. A family is chosen only
    /// when the CPU has all of them, so Kiln never selects an instruction the CPU lacks. Linux
    /// clears a flag in /proc/cpuinfo when the OS does not save that register state (XSAVE), so
    /// the flags already say what may run.
    ///
    /// COOPERLAKE is SKYLAKEX plus bf16 kernels for sbgemm: OpenBLAS's KERNEL.COOPERLAKE includes
    /// KERNEL.SKYLAKEX and overrides only SBGEMM*. Timings agree: sgemm 2048×2304×768 on one core
    /// of a Sapphire Rapids VM, interleaved runs, 93-103 GFLOP/s for both (Prescott: 28). It is
    /// also what OpenBLAS picks itself for such CPUs, and the one to have if Kiln uses sbgemm.
    public static let families: [(coreType: String, flags: [String])] = [
        ("COOPERLAKE", ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16", "avx2", "fma"]),
        ("SKYLAKEX", ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx2", "fma"]),
        ("HASWELL", ["avx2", "fma"]),
        ("SANDYBRIDGE", ["avx"]),
    ]

    /// - Parameters:
    ///   - cpuFlags: the CPU's feature flags (the `flags` line of /proc/cpuinfo); empty when unknown.
    ///   - environment: the OPENBLAS_CORETYPE the user set, if any; it always wins.
    public static func choose(cpuFlags: Set<String>, environment: String?) -> BLASCoreChoice {
        if let env = environment, !env.isEmpty {
            return BLASCoreChoice(coreType: env, source: .environment, flags: [])
        }
        for family in families where family.flags.allSatisfy(cpuFlags.contains) {
            return BLASCoreChoice(coreType: family.coreType, source: .cpuFeatures, flags: family.flags)
        }
        return BLASCoreChoice(coreType: nil, source: .openBLASDefault, flags: [])
    }

    /// The feature flags of the first CPU in /proc/cpuinfo; empty where there is no such file
    /// (macOS, where OpenBLAS's own detection is left to do the work).
    public static func cpuFlags(cpuinfo path: String = "/proc/cpuinfo") -> Set<String> {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }
}

public enum BLAS {
    #if canImport(Darwin)
    public static let defaultLibraryPath = "libopenblas.dylib"
    #else
    public static let defaultLibraryPath = "libopenblas.so.0"
    #endif

    // CBLAS enum values (cblas.h).
    private static let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112

    /// Row-major: C = alpha * op(A) * op(B) + beta * C, op(A) is m×k, op(B) is k×n, C is m×n.
    /// A is stored m×k (k×m when `transA`) with row stride `lda`, B k×n (n×k when `transB`) with
    /// row stride `ldb`. As in BLAS, C is not read when beta is 0.
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        checkArguments(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
        precondition(max(m, n, k, lda, ldb, ldc) <= Int(Int32.max), "sgemm: a size exceeds OpenBLAS's 32-bit int")
        if m == 0 || n == 0 { return }
        let f = loadedOrDie().sgemm
        f(rowMajor, transA ? trans : noTrans, transB ? trans : noTrans,
          Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The naive triple loop that `sgemm` is tested against, same argument convention. It sums in
    /// Double, so its own rounding error is far below the tolerance the tests use.
    public static func naiveSgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        checkArguments(transA: transA, transB: transB, m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let aip = transA ? a[p * lda + i] : a[i * lda + p]
                    let bpj = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(aip) * Double(bpj)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                c[i * ldc + j] = Float(Double(alpha) * sum + old)
            }
        }
    }

    private static func checkArguments(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                                       lda: Int, ldb: Int, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative size m=\(m) n=\(n) k=\(k)")
        // Row-major: a stored row holds k values of op(A) (m when transposed), and so on.
        precondition(lda >= max(1, transA ? m : k), "sgemm: lda \(lda) is too small")
        precondition(ldb >= max(1, transB ? k : n), "sgemm: ldb \(ldb) is too small")
        precondition(ldc >= max(1, n), "sgemm: ldc \(ldc) is too small")
    }

    /// Threads OpenBLAS uses for one call. Two help only when the other core is idle.
    public static var threads: Int {
        get { Int(loadedOrDie().getNumThreads()) }
        set {
            precondition(newValue >= 1, "BLAS.threads must be at least 1, not \(newValue)")
            loadedOrDie().setNumThreads(Int32(clamping: newValue))
        }
    }

    /// What is loaded; loads the default library if nothing is yet.
    public static var info: BLASInfo {
        var i = loadedOrDie().info
        i.threads = Int(loadedOrDie().getNumThreads())
        return i
    }

    /// Loads the library once (thread-safe, idempotent) and returns what was loaded. `sgemm`,
    /// `threads` and `info` call it lazily with the default path; call it first to load another
    /// file or to handle the error instead of stopping.
    ///
    /// - Parameter libraryPath: a path or soname for `dlopen`; nil for `defaultLibraryPath`.
    @discardableResult
    public static func load(libraryPath: String? = nil) throws -> BLASInfo {
        try state.withLock { loaded in
            if let lib = loaded {
                if let p = libraryPath, p != lib.info.libraryPath {
                    throw BLASError.alreadyLoaded(loaded: lib.info.libraryPath, requested: p)
                }
                return lib.info
            }
            let lib = try Library.open(libraryPath ?? defaultLibraryPath)
            loaded = lib
            return lib.info
        }
    }

    /// Measures the sgemm ceiling: GFLOP/s (2·m·n·k per product) of repeated row-major
    /// m×k · k×n products on `threads` threads for about `seconds`, after one warm-up product.
    /// The previous thread count is restored afterwards.
    public static func measureGFLOPS(m: Int, n: Int, k: Int, threads: Int, seconds: Double) -> Double {
        precondition(m > 0 && n > 0 && k > 0 && threads >= 1)
        let a = (0..<(m * k)).map { Float($0 % 7) * 0.125 - 0.375 }
        let b = (0..<(k * n)).map { Float($0 % 5) * 0.25 - 0.5 }
        var c = [Float](repeating: 0, count: m * n)
        let saved = self.threads
        self.threads = threads
        defer { self.threads = saved }
        func product() {
            c.withUnsafeMutableBufferPointer { cp in
                sgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                      beta: 0, c: cp.baseAddress!, ldc: n)
            }
        }
        product()
        let start = DispatchTime.now().uptimeNanoseconds
        var products = 0
        var elapsed = 0.0
        repeat {
            product()
            products += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
        return 2.0 * Double(m) * Double(n) * Double(k) * Double(products) / elapsed / 1e9
    }

    // MARK: - Loaded state

    private static let state = LockedState()

    private static func loadedOrDie() -> Library {
        if let lib = state.withLock({ $0 }) { return lib }
        do {
            try load()
        } catch {
            fatalError("BLAS: \(error)")
        }
        guard let lib = state.withLock({ $0 }) else { fatalError("BLAS: \(defaultLibraryPath) did not stay loaded") }
        return lib
    }
}

/// The loaded library, set once under the lock and never unloaded (its threads and kernels live
/// as long as the process).
private final class LockedState: @unchecked Sendable {
    // @unchecked: `loaded` is only touched while `lock` is held.
    private let lock = NSLock()
    private var loaded: Library?

    func withLock<R>(_ body: (inout Library?) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&loaded)
    }
}

/// The symbols Kiln uses. C function pointers are plain immutable addresses, so sharing them
/// between threads is safe; OpenBLAS itself is thread-safe for concurrent sgemm calls.
private final class Library: Sendable {
    typealias SgemmFn = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                        UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                        Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreadsFn = @convention(c) (Int32) -> Void
    typealias GetThreadsFn = @convention(c) () -> Int32
    typealias NameFn = @convention(c) () -> UnsafeMutablePointer<CChar>?

    nonisolated(unsafe) let sgemm: SgemmFn
    nonisolated(unsafe) let setNumThreads: SetThreadsFn
    nonisolated(unsafe) let getNumThreads: GetThreadsFn
    let info: BLASInfo

    private init(sgemm: SgemmFn, setNumThreads: SetThreadsFn, getNumThreads: GetThreadsFn, info: BLASInfo) {
        self.sgemm = sgemm
        self.setNumThreads = setNumThreads
        self.getNumThreads = getNumThreads
        self.info = info
    }

    /// Chooses the kernels, loads the library and resolves the symbols. Called once, under the
    /// lock, so the brief change to the environment cannot race with another load.
    static func open(_ path: String) throws -> Library {
        let variable = "OPENBLAS_CORETYPE"
        let userValue = getenv(variable).map { String(cString: $0) }
        let choice = BLASCoreChoice.choose(cpuFlags: BLASCoreChoice.cpuFlags(), environment: userValue)
        // If something else already linked OpenBLAS, its constructor has run: say so rather
        // than report a choice that had no effect.
        let wasLoaded = dlopen(path, RTLD_NOW | RTLD_NOLOAD) != nil
        let setByKiln = choice.source == .cpuFeatures && !wasLoaded
        if setByKiln, let core = choice.coreType { setenv(variable, core, 1) }
        let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)
        // The constructor has read the variable; leave the environment as it was, so child
        // processes (Python checkers with their own OpenBLAS) see what the user set.
        if setByKiln { unsetenv(variable) }
        guard let handle else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            throw BLASError.cannotLoad(path: path, reason: reason)
        }
        func symbol<T>(_ name: String, as type: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else { throw BLASError.missingSymbol(path: path, symbol: name) }
            return unsafeBitCast(p, to: type)
        }
        let sgemm = try symbol("cblas_sgemm", as: SgemmFn.self)
        let setThreads = try symbol("openblas_set_num_threads", as: SetThreadsFn.self)
        let getThreads = try symbol("openblas_get_num_threads", as: GetThreadsFn.self)
        let corename = try symbol("openblas_get_corename", as: NameFn.self)
        let config = try symbol("openblas_get_config", as: NameFn.self)
        let info = BLASInfo(
            libraryPath: path,
            coreName: corename().map { String(cString: $0) } ?? "unknown",
            requestedCoreType: wasLoaded ? nil : (setByKiln ? choice.coreType : userValue),
            coreTypeSource: wasLoaded ? .alreadyLoaded : choice.source,
            config: config().map { String(cString: $0) } ?? "unknown",
            threads: Int(getThreads()),
            cpuFlags: wasLoaded ? [] : choice.flags)
        return Library(sgemm: sgemm, setNumThreads: setThreads, getNumThreads: getThreads, info: info)
    }
}
