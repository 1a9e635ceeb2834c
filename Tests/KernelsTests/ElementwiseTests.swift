// GELU and Residual: fast against the Double references on sizes with SIMD tails, and the
// backward passes against finite differences.
import Testing
import TestSupport
@testable import Kernels

@Suite struct GELUTests {
    @Test(arguments: [1, 3], [1, 15, 53, 1000])
    func forwardMatchesNaive(threads: Int, n: Int) {
        var rng = TestRandom(seed: 1)
        let x = rng.floats(n, -6, 6)
        let out = TestBuffer(zeros: n), inp = TestBuffer(x)
        GELU.forward(out: out.w, inp: inp.r, N: n, threads: threads)
        let want = GELU.naiveForward(x.doubles)
        // Errors against max(|y|, 1): far left, 1 + tanh(u) cancels to 0 in float (as in llm.c),
        // so a lone tiny output such as gelu(-5.5) = -6e-9 comes out as -0.
        #expect(GradientCheck.normalisedError(out.array, want, floor: 1) < 1e-6)
        withExtendedLifetime(inp) {}
    }

    @Test(arguments: [1, 3])
    func backwardMatchesFiniteDifferencesAndAccumulates(threads: Int) {
        let n = 53
        var rng = TestRandom(seed: 2)
        let x = rng.floats(n, -5, 5), dout = rng.floats(n), start = rng.floats(n)
        let dinp = TestBuffer(start), inp = TestBuffer(x), g = TestBuffer(dout)
        GELU.backward(dinp: dinp.w, inp: inp.r, dout: g.r, N: n, threads: threads)
        let numeric = GradientCheck.numericGradient(of: { x in
            zip(GELU.naiveForward(x), dout).map { $0 * Double($1) }.reduce(0, +)
        }, at: x.doubles, indices: Array(0..<n))
        let analytic = zip(dinp.array, start).map { Double($0) - Double($1) }
        #expect(GradientCheck.normalisedError(analytic, numeric) < 1e-5)
        withExtendedLifetime((inp, g)) {}
    }
}

@Suite struct ResidualTests {
    @Test(arguments: [1, 3])
    func forwardAndBackward(threads: Int) {
        let n = 37
        var rng = TestRandom(seed: 3)
        let a = rng.floats(n), b = rng.floats(n), dout = rng.floats(n), da0 = rng.floats(n), db0 = rng.floats(n)
        let out = TestBuffer(zeros: n), ab = TestBuffer(a), bb = TestBuffer(b), g = TestBuffer(dout)
        Residual.forward(out: out.w, a: ab.r, b: bb.r, N: n, threads: threads)
        #expect(GradientCheck.normalisedError(out.array, Residual.naiveForward(a.doubles, b.doubles)) < 1e-7)
        let da = TestBuffer(da0), db = TestBuffer(db0)
        Residual.backward(da: da.w, db: db.w, dout: g.r, N: n, threads: threads)
        #expect(da.array == zip(da0, dout).map { $0 + $1 })
        #expect(db.array == zip(db0, dout).map { $0 + $1 })
        withExtendedLifetime((ab, bb, g)) {}
    }
}
