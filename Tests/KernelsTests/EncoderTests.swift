import Testing
import TestSupport
@testable import Kernels

@Suite struct EncoderTests {
    @Test(arguments: [1, 3])
    func forwardAndBackward(threads: Int) {
        let N = 9, C = 21, Vp = 11, maxT = 6
        var rng = TestRandom(seed: 30)
        // Repeated tokens and positions: their gradients must add up, not overwrite each other.
        let tokens: [Int32] = [3, 3, 0, 10, 3, 7, 0, 1, 3]
        let positions: [Int32] = [0, 1, 2, 0, 1, 5, 0, 1, 2]
        let wte = rng.floats(Vp * C), wpe = rng.floats(maxT * C), dout = rng.floats(N * C)
        let dwte0 = rng.floats(Vp * C), dwpe0 = rng.floats(maxT * C)
        let out = TestBuffer(zeros: N * C), te = TestBuffer(wte), pe = TestBuffer(wpe), g = TestBuffer(dout)
        tokens.withUnsafeBufferPointer { tok in
            positions.withUnsafeBufferPointer { pos in
                Encoder.forward(out: out.w, tokens: tok, positions: pos, wte: te.r, wpe: pe.r, N: N, C: C, threads: threads)
            }
        }
        let want = Encoder.naiveForward(tokens: tokens, positions: positions, wte: wte.doubles, wpe: wpe.doubles, C: C)
        #expect(GradientCheck.normalisedError(out.array, want) < 1e-7)

        let dte = TestBuffer(dwte0), dpe = TestBuffer(dwpe0)
        tokens.withUnsafeBufferPointer { tok in
            positions.withUnsafeBufferPointer { pos in
                Encoder.backward(dwte: dte.w, dwpe: dpe.w, dout: g.r, tokens: tok, positions: pos, N: N, C: C,
                                 threads: threads)
            }
        }
        let all = wte.doubles + wpe.doubles
        let numeric = GradientCheck.numericGradient(of: { v in
            let y = Encoder.naiveForward(tokens: tokens, positions: positions, wte: Array(v[0..<(Vp * C)]),
                                         wpe: Array(v[(Vp * C)...]), C: C)
            return zip(y, dout).map { $0 * Double($1) }.reduce(0, +)
        }, at: all, indices: Array(all.indices))
        let after: [Float] = dte.array + dpe.array, before: [Float] = dwte0 + dwpe0
        let analytic: [Double] = zip(after, before).map { Double($0) - Double($1) }
        #expect(GradientCheck.normalisedError(analytic, numeric) < 1e-5)
        withExtendedLifetime((te, pe, g)) {}
    }
}
