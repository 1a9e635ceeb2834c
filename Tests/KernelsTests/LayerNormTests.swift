import Testing
import TestSupport
@testable import Kernels

@Suite struct LayerNormTests {
    /// Rows with a large common offset: a one-pass variance would lose most of its digits.
    static func inputs(N: Int, C: Int, seed: UInt64) -> (x: [Float], w: [Float], b: [Float]) {
        var rng = TestRandom(seed: seed)
        return (rng.floats(N * C).map { $0 + 3 }, rng.floats(C, 0.5, 1.5), rng.floats(C))
    }

    @Test(arguments: [1, 3], [5, 16, 37])
    func forwardMatchesNaive(threads: Int, C: Int) {
        let N = 7
        let (x, w, b) = Self.inputs(N: N, C: C, seed: 10)
        let out = TestBuffer(zeros: N * C), mean = TestBuffer(zeros: N), rstd = TestBuffer(zeros: N)
        let xb = TestBuffer(x), wb = TestBuffer(w), bb = TestBuffer(b)
        LayerNorm.forward(out: out.w, mean: mean.w, rstd: rstd.w, inp: xb.r, weight: wb.r, bias: bb.r,
                          N: N, C: C, threads: threads)
        let want = LayerNorm.naiveForward(inp: x.doubles, weight: w.doubles, bias: b.doubles, N: N, C: C)
        #expect(GradientCheck.normalisedError(out.array, want) < 2e-6)
        withExtendedLifetime((xb, wb, bb)) {}
    }

    @Test(arguments: [1, 3], [5, 37])
    func backwardMatchesFiniteDifferences(threads: Int, C: Int) {
        let N = 5
        let (x, w, b) = Self.inputs(N: N, C: C, seed: 11)
        var rng = TestRandom(seed: 12)
        let dout = rng.floats(N * C)
        let dx0 = rng.floats(N * C), dw0 = rng.floats(C), db0 = rng.floats(C)
        let out = TestBuffer(zeros: N * C), mean = TestBuffer(zeros: N), rstd = TestBuffer(zeros: N)
        let xb = TestBuffer(x), wb = TestBuffer(w), bb = TestBuffer(b), g = TestBuffer(dout)
        LayerNorm.forward(out: out.w, mean: mean.w, rstd: rstd.w, inp: xb.r, weight: wb.r, bias: bb.r,
                          N: N, C: C, threads: threads)
        let dx = TestBuffer(dx0), dw = TestBuffer(dw0), db = TestBuffer(db0)
        LayerNorm.backward(dinp: dx.w, dweight: dw.w, dbias: db.w, dout: g.r, inp: xb.r, weight: wb.r,
                           mean: mean.r, rstd: rstd.r, N: N, C: C, threads: threads)
        // One function of all three inputs, so each gradient is checked against the same loss.
        let all = x.doubles + w.doubles + b.doubles
        let loss: ([Double]) -> Double = { v in
            let y = LayerNorm.naiveForward(inp: Array(v[0..<(N * C)]), weight: Array(v[(N * C)..<(N * C + C)]),
                                           bias: Array(v[(N * C + C)...]), N: N, C: C)
            return zip(y, dout).map { $0 * Double($1) }.reduce(0, +)
        }
        let numeric = GradientCheck.numericGradient(of: loss, at: all, indices: Array(all.indices))
        func delta(_ after: TestBuffer, _ before: [Float]) -> [Double] {
            zip(after.array, before).map { Double($0) - Double($1) }
        }
        #expect(GradientCheck.normalisedError(delta(dx, dx0), Array(numeric[0..<(N * C)])) < 1e-4)
        #expect(GradientCheck.normalisedError(delta(dw, dw0), Array(numeric[(N * C)..<(N * C + C)])) < 1e-4)
        #expect(GradientCheck.normalisedError(delta(db, db0), Array(numeric[(N * C + C)...])) < 1e-4)
        withExtendedLifetime((xb, wb, bb, g)) {}
    }
}
