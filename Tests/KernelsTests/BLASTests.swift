import Foundation
import Testing
@testable import Kernels

/// sgemm against the naive triple loop, and the loader's choices. Serialized: some tests change
/// the process-wide thread count.
@Suite(.serialized) struct BLASTests {
    /// A deterministic, non-trivial fill (no RNG, so a failure reproduces exactly).
    static func fill(_ count: Int, salt: Int) -> [Float] {
        (0..<count).map { Float(($0 * 7919 + salt * 104729) % 61) / 30 - 1 }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var m, n, k: Int
        var pad: Int          // extra row stride beyond the minimum, for lda, ldb, ldc
        var alpha, beta: Float
        var testDescription: String { "\(m)x\(n)x\(k) pad \(pad) alpha \(alpha) beta \(beta)" }
    }

    static let cases: [Case] = [
        Case(m: 1, n: 1, k: 1, pad: 0, alpha: 1, beta: 0),
        Case(m: 7, n: 13, k: 5, pad: 0, alpha: 1, beta: 0),
        Case(m: 7, n: 13, k: 5, pad: 3, alpha: -0.5, beta: 0.75),
        Case(m: 33, n: 17, k: 65, pad: 0, alpha: 2, beta: 1),
        Case(m: 33, n: 17, k: 65, pad: 5, alpha: 0.25, beta: -1.5),
        Case(m: 64, n: 96, k: 300, pad: 1, alpha: 1, beta: 0.5),
        // k = 0: the product is empty, so C = beta * C.
        Case(m: 3, n: 4, k: 0, pad: 2, alpha: 1, beta: 0.5),
    ]

    @Test(arguments: cases, [(false, false), (false, true), (true, false), (true, true)])
    func sgemmMatchesNaive(_ c: Case, _ trans: (Bool, Bool)) {
        let (transA, transB) = trans
        // Stored shapes (rows × minimum row length) of A and B, row-major.
        let aRows = transA ? c.k : c.m, aCols = transA ? c.m : c.k
        let bRows = transB ? c.n : c.k, bCols = transB ? c.k : c.n
        let lda = aCols + c.pad, ldb = bCols + c.pad, ldc = c.n + c.pad
        let a = Self.fill(aRows * lda, salt: 1), b = Self.fill(bRows * ldb, salt: 2)
        let c0 = Self.fill(c.m * ldc, salt: 3)
        var fast = c0, slow = c0
        fast.withUnsafeMutableBufferPointer { p in
            BLAS.sgemm(transA: transA, transB: transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                       a: a, lda: lda, b: b, ldb: ldb, beta: c.beta, c: p.baseAddress!, ldc: ldc)
        }
        slow.withUnsafeMutableBufferPointer { p in
            BLAS.naiveSgemm(transA: transA, transB: transB, m: c.m, n: c.n, k: c.k, alpha: c.alpha,
                            a: a, lda: lda, b: b, ldb: ldb, beta: c.beta, c: p.baseAddress!, ldc: ldc)
        }
        var worst: Float = 0
        for i in 0..<c.m {
            for j in 0..<c.n {
                worst = max(worst, abs(fast[i * ldc + j] - slow[i * ldc + j]))
            }
            // The padding at the end of each row of C is not part of C: it must be untouched.
            for j in c.n..<ldc {
                #expect(fast[i * ldc + j] == c0[i * ldc + j], "row \(i) padding column \(j) was written")
            }
        }
        // Values are O(1) and k ≤ 300, so float sums agree with the Double reference to ~1e-4.
        #expect(worst < 1e-3 * Float(max(1, c.k / 16)), "max |sgemm - naive| = \(worst)")
    }

    @Test func betaZeroDoesNotReadC() {
        // BLAS does not read C when beta is 0, so NaN there must not reach the result.
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var fast = [Float](repeating: .nan, count: 4), slow = fast
        fast.withUnsafeMutableBufferPointer { p in
            BLAS.sgemm(transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, a: a, lda: 2, b: b, ldb: 2,
                       beta: 0, c: p.baseAddress!, ldc: 2)
        }
        slow.withUnsafeMutableBufferPointer { p in
            BLAS.naiveSgemm(transA: false, transB: false, m: 2, n: 2, k: 2, alpha: 1, a: a, lda: 2, b: b, ldb: 2,
                            beta: 0, c: p.baseAddress!, ldc: 2)
        }
        #expect(fast == [19, 22, 43, 50])
        #expect(slow == [19, 22, 43, 50])
    }

    @Test func loadsAndDescribesItself() throws {
        let info = try BLAS.load()
        #expect(info.libraryPath == BLAS.defaultLibraryPath)
        #expect(info.config.hasPrefix("OpenBLAS"), "config: \(info.config)")
        #expect(!info.coreName.isEmpty)
        // Loading again is a no-op and says the same.
        #expect(try BLAS.load() == info)
        // A core type Kiln chose is not left in the environment for child processes.
        if info.coreTypeSource == .cpuFeatures {
            #expect(getenv("OPENBLAS_CORETYPE") == nil)
        }
        #expect(throws: BLASError.self) { try BLAS.load(libraryPath: "/nonexistent/libopenblas.so.0") }
    }

    @Test func fastKernelsOnAnAVX2CPU() throws {
        let info = try BLAS.load()
        let flags = BLASCoreChoice.cpuFlags()
        guard flags.contains("avx2"), flags.contains("fma") else {
            print("skipped: this CPU has no AVX2/FMA, OpenBLAS's Prescott kernels may be right here")
            return
        }
        guard info.coreTypeSource != .environment else {
            print("skipped: OPENBLAS_CORETYPE=\(info.requestedCoreType ?? "") was set by the user")
            return
        }
        #expect(info.coreName.lowercased() != "prescott", "OpenBLAS chose \(info.coreName): \(info)")
        if info.coreTypeSource == .cpuFeatures {
            // OpenBLAS names its kernels in mixed case ("SkylakeX") but parses the variable in
            // any case: the family loaded must be the one Kiln asked for.
            #expect(info.coreName.uppercased() == info.requestedCoreType)
        }
    }

    @Test func threadsSetAndGet() throws {
        try BLAS.load()
        let saved = BLAS.threads
        defer { BLAS.threads = saved }
        BLAS.threads = 1
        #expect(BLAS.threads == 1)
        BLAS.threads = 2
        #expect(BLAS.threads == 2)
        #expect(BLAS.info.threads == 2)
    }

    @Test func coreChoiceFollowsFlags() {
        let skx: Set = ["avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        #expect(BLASCoreChoice.choose(cpuFlags: skx.union(["avx512_bf16"]), environment: nil).coreType == "COOPERLAKE")
        #expect(BLASCoreChoice.choose(cpuFlags: skx, environment: nil).coreType == "SKYLAKEX")
        // AVX-512 foundation without the byte/word and vector-length parts is not SkylakeX
        // (Knights Landing): fall to Haswell, never to a kernel the CPU cannot run.
        #expect(BLASCoreChoice.choose(cpuFlags: ["avx", "avx2", "fma", "avx512f", "avx512cd"], environment: nil).coreType == "HASWELL")
        #expect(BLASCoreChoice.choose(cpuFlags: ["avx", "avx2"], environment: nil).coreType == "SANDYBRIDGE")
        #expect(BLASCoreChoice.choose(cpuFlags: ["sse2", "sse3"], environment: nil).coreType == nil)
        #expect(BLASCoreChoice.choose(cpuFlags: [], environment: nil).source == .openBLASDefault)
        let user = BLASCoreChoice.choose(cpuFlags: skx, environment: "HASWELL")
        #expect(user.coreType == "HASWELL" && user.source == .environment)
    }

    @Test func measuresAPlausibleRate() throws {
        try BLAS.load()
        let g = BLAS.measureGFLOPS(m: 64, n: 64, k: 64, threads: 1, seconds: 0.05)
        #expect(g > 0.1 && g < 10_000, "\(g) GFLOP/s")
    }
}
