import Testing
import TestSupport
@testable import Kernels

@Suite struct AttentionTests {
    struct Shape: Sendable, CustomStringConvertible {
        var B: Int, T: Int, C: Int, NH: Int
        var ids: [Int32]?
        var description: String { "B=\(B) T=\(T) C=\(C) NH=\(NH) ids=\(ids.map { "\($0)" } ?? "none")" }
    }
    static let shapes: [Shape] = [
        Shape(B: 2, T: 9, C: 20, NH: 4, ids: nil),                                    // hs 5: tails only
        Shape(B: 1, T: 19, C: 36, NH: 2, ids: nil),                                   // hs 18: SIMD body + tail
        Shape(B: 2, T: 9, C: 12, NH: 3, ids: [0, 0, 0, 1, 1, 2, 2, 2, 2, 5, 5, 5, 5, 5, 5, 6, 7, 7]),
        Shape(B: 1, T: 7, C: 8, NH: 2, ids: [1, 1, 2, 2, 1, 1, 1]),                  // a repeated id is a new document
    ]

    /// Blocks of 64 rows (one block at these T) and of 4 rows (several, with a partial last one),
    /// each run with one and with three threads.
    static let runs: [(threads: Int, rowBlock: Int)] = [(1, 64), (3, 64), (1, 4), (3, 4)]

    @Test(arguments: shapes, runs.indices)
    func forwardMatchesNaive(shape s: Shape, run: Int) {
        let (threads, rowBlock) = Self.runs[run]
        var rng = TestRandom(seed: 40)
        let qkv = rng.floats(s.B * s.T * 3 * s.C, -2, 2)
        let out = TestBuffer(zeros: s.B * s.T * s.C), att = TestBuffer(zeros: s.B * s.NH * s.T * s.T), x = TestBuffer(qkv)
        withOptional(s.ids) { ids in
            Attention.forward(out: out.w, att: att.w, qkv: x.r, documentIDs: ids, B: s.B, T: s.T, C: s.C, NH: s.NH,
                              threads: threads, rowBlock: rowBlock)
        }
        let want = Attention.naiveForward(qkv: qkv.doubles, documentIDs: s.ids, B: s.B, T: s.T, C: s.C, NH: s.NH)
        #expect(GradientCheck.normalisedError(out.array, want) < 1e-5)
        // Every weight row sums to 1 and is 0 above the diagonal.
        let a = att.array
        for r in 0..<(s.B * s.NH * s.T) {
            let t = r % s.T, row = a[(r * s.T)..<((r + 1) * s.T)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
            #expect(row.dropFirst(t + 1).allSatisfy { $0 == 0 })
        }
        withExtendedLifetime(x) {}
    }

    @Test(arguments: shapes, runs.indices)
    func backwardMatchesFiniteDifferences(shape s: Shape, run: Int) {
        let (threads, rowBlock) = Self.runs[run]
        var rng = TestRandom(seed: 41)
        let n = s.B * s.T * 3 * s.C
        let qkv = rng.floats(n, -2, 2), dout = rng.floats(s.B * s.T * s.C), start = rng.floats(n)
        let out = TestBuffer(zeros: s.B * s.T * s.C), att = TestBuffer(zeros: s.B * s.NH * s.T * s.T)
        let x = TestBuffer(qkv), g = TestBuffer(dout), dx = TestBuffer(start)
        let datt = TestBuffer(rng.floats(s.B * s.NH * s.T * s.T))  // scratch: garbage must not matter
        withOptional(s.ids) { ids in
            Attention.forward(out: out.w, att: att.w, qkv: x.r, documentIDs: ids, B: s.B, T: s.T, C: s.C, NH: s.NH,
                              threads: threads, rowBlock: rowBlock)
        }
        Attention.backward(dqkv: dx.w, datt: datt.w, dout: g.r, qkv: x.r, att: att.r, B: s.B, T: s.T, C: s.C,
                           NH: s.NH, threads: threads, rowBlock: rowBlock)
        let numeric = GradientCheck.numericGradient(of: { v in
            let y = Attention.naiveForward(qkv: v, documentIDs: s.ids, B: s.B, T: s.T, C: s.C, NH: s.NH)
            return zip(y, dout).map { $0 * Double($1) }.reduce(0, +)
        }, at: qkv.doubles, indices: Array(0..<n))
        let analytic = zip(dx.array, start).map { Double($0) - Double($1) }
        #expect(GradientCheck.normalisedError(analytic, numeric) < 1e-4)
        withExtendedLifetime((x, g)) {}
    }

    /// Feeding positions to the cache in pieces gives the full causal attention at those positions.
    @Test(arguments: [1, 3])
    func cachedForwardMatchesFullForward(threads: Int) {
        let B = 2, T = 11, C = 36, NH = 2, maxT = 13
        var rng = TestRandom(seed: 42)
        let qkv = rng.floats(B * T * 3 * C, -2, 2)
        let full = TestBuffer(zeros: B * T * C), att = TestBuffer(zeros: B * NH * T * T), x = TestBuffer(qkv)
        Attention.forward(out: full.w, att: att.w, qkv: x.r, documentIDs: nil, B: B, T: T, C: C, NH: NH, threads: threads)
        let kc = TestBuffer(zeros: B * maxT * C), vc = TestBuffer(zeros: B * maxT * C)
        let scratch = TestBuffer(zeros: threads * maxT)
        var start = 0
        for n in [4, 1, 1, 5] {
            // The (B, n, 3C) rows of positions start..<start+n.
            var piece: [Float] = []
            let rowQKV = 3 * C
            for b in 0..<B {
                let lo: Int = (b * T + start) * rowQKV
                piece += qkv[lo..<(lo + n * rowQKV)]
            }
            let px = TestBuffer(piece), out = TestBuffer(zeros: B * n * C)
            Attention.forwardCached(out: out.w, qkv: px.r, kCache: kc.w, vCache: vc.w, scratch: scratch.w,
                                    start: start, n: n, B: B, maxT: maxT, C: C, NH: NH, threads: threads)
            var want: [Float] = []
            let fullOut = full.array
            for b in 0..<B {
                let lo: Int = (b * T + start) * C
                want += fullOut[lo..<(lo + n * C)]
            }
            #expect(GradientCheck.normalisedError(out.array, want.doubles) < 1e-5, "positions \(start)..<\(start + n)")
            start += n
            withExtendedLifetime(px) {}
        }
        withExtendedLifetime(x) {}
    }
}

func withOptional<T, R>(_ array: [T]?, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0) }
}
