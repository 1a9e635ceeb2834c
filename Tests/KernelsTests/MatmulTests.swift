import Testing
import TestSupport
@testable import Kernels

@Suite struct MatmulTests {
    @Test(arguments: [true, false], [1, 3])
    func forwardMatchesNaive(withBias: Bool, threads: Int) {
        let N = 7, C = 19, OC = 23
        var rng = TestRandom(seed: 20)
        let x = rng.floats(N * C), w = rng.floats(OC * C), b = rng.floats(OC)
        let out = TestBuffer(zeros: N * OC), xb = TestBuffer(x), wb = TestBuffer(w), bb = TestBuffer(b)
        Matmul.forward(out: out.w, inp: xb.r, weight: wb.r, bias: withBias ? bb.r : nil, N: N, C: C, OC: OC,
                       threads: threads)
        let want = Matmul.naiveForward(inp: x.doubles, weight: w.doubles, bias: withBias ? b.doubles : nil,
                                       N: N, C: C, OC: OC)
        #expect(GradientCheck.normalisedError(out.array, want) < 1e-6)
        withExtendedLifetime((xb, wb, bb)) {}
    }

    @Test(arguments: [1, 3])
    func backwardMatchesFiniteDifferencesAndAccumulates(threads: Int) {
        let N = 7, C = 19, OC = 37
        var rng = TestRandom(seed: 21)
        let x = rng.floats(N * C), w = rng.floats(OC * C), b = rng.floats(OC), dout = rng.floats(N * OC)
        let dx0 = rng.floats(N * C), dw0 = rng.floats(OC * C), db0 = rng.floats(OC)
        let xb = TestBuffer(x), wb = TestBuffer(w), g = TestBuffer(dout)
        let dx = TestBuffer(dx0), dw = TestBuffer(dw0), db = TestBuffer(db0)
        Matmul.backward(dinp: dx.w, dweight: dw.w, dbias: db.w, dout: g.r, inp: xb.r, weight: wb.r,
                        N: N, C: C, OC: OC, threads: threads)
        let nx = N * C, nw = OC * C
        let all = x.doubles + w.doubles + b.doubles
        let loss: ([Double]) -> Double = { v in
            let y = Matmul.naiveForward(inp: Array(v[0..<nx]), weight: Array(v[nx..<(nx + nw)]),
                                        bias: Array(v[(nx + nw)...]), N: N, C: C, OC: OC)
            return zip(y, dout).map { $0 * Double($1) }.reduce(0, +)
        }
        let numeric = GradientCheck.numericGradient(of: loss, at: all, indices: Array(all.indices))
        func delta(_ after: TestBuffer, _ before: [Float]) -> [Double] {
            zip(after.array, before).map { Double($0) - Double($1) }
        }
        #expect(GradientCheck.normalisedError(delta(dx, dx0), Array(numeric[0..<nx])) < 1e-4)
        #expect(GradientCheck.normalisedError(delta(dw, dw0), Array(numeric[nx..<(nx + nw)])) < 1e-4)
        #expect(GradientCheck.normalisedError(delta(db, db0), Array(numeric[(nx + nw)...])) < 1e-4)
        withExtendedLifetime((xb, wb, g)) {}
    }
}
