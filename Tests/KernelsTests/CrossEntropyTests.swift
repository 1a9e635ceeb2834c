import Testing
import TestSupport
@testable import Kernels

@Suite struct SoftmaxCrossEntropyTests {
    static let N = 6, V = 37, Vp = 48
    /// Weights with a masked token (its target -1 must be ignored) and fractional weights.
    static let weights: [Float] = [1, 0, 0.5, 2, 1, 0.25]
    static let targets: [Int32] = [0, -1, 36, 5, 17, 36]

    static func logits(seed: UInt64) -> [Float] {
        var rng = TestRandom(seed: seed)
        var l = rng.floats(N * Vp, -4, 4)
        l[3 * Vp + 5] = 30  // a confident row: the maximum subtraction must keep it finite
        for n in 0..<N { for i in V..<Vp { l[n * Vp + i] = 100 } }  // pad logits large: must be ignored
        return l
    }

    @Test(arguments: [1, 3], [true, false])
    func forwardMatchesNaive(threads: Int, weighted: Bool) {
        let (N, V, Vp) = (Self.N, Self.V, Self.Vp)
        let l = Self.logits(seed: 50)
        let targets = weighted ? Self.targets : Self.targets.map { max($0, 0) }
        let losses = TestBuffer(zeros: N), lse = TestBuffer(zeros: N), lb = TestBuffer(l)
        targets.withUnsafeBufferPointer { tg in
            withOptional(weighted ? Self.weights : nil) { w in
                SoftmaxCrossEntropy.forward(losses: losses.w, lse: lse.w, logits: lb.r, targets: tg, weights: w,
                                            N: N, V: V, Vp: Vp, threads: threads)
            }
        }
        let want = SoftmaxCrossEntropy.naiveForward(logits: l.doubles, targets: targets,
                                                    weights: weighted ? Self.weights.doubles : nil, N: N, V: V, Vp: Vp)
        #expect(GradientCheck.normalisedError(losses.array, want) < 1e-6)
        #expect(losses.array.allSatisfy { $0.isFinite })
        withExtendedLifetime(lb) {}
    }

    @Test(arguments: [1, 3])
    func backwardMatchesFiniteDifferences(threads: Int) {
        let (N, V, Vp) = (Self.N, Self.V, Self.Vp)
        let l = Self.logits(seed: 51), scale: Float = 0.3
        let losses = TestBuffer(zeros: N), lse = TestBuffer(zeros: N), lb = TestBuffer(l)
        Self.targets.withUnsafeBufferPointer { tg in
            Self.weights.withUnsafeBufferPointer { w in
                SoftmaxCrossEntropy.forward(losses: losses.w, lse: lse.w, logits: lb.r, targets: tg, weights: w,
                                            N: N, V: V, Vp: Vp, threads: threads)
                SoftmaxCrossEntropy.backward(logits: lb.w, lse: lse.r, targets: tg, weights: w, scale: scale,
                                             N: N, V: V, Vp: Vp, threads: threads)
            }
        }
        let dlogits = lb.array
        let numeric = GradientCheck.numericGradient(of: { v in
            let ls = SoftmaxCrossEntropy.naiveForward(logits: v, targets: Self.targets, weights: Self.weights.doubles,
                                                      N: N, V: V, Vp: Vp)
            return zip(ls, Self.weights).map { $0 * Double($1) * Double(scale) }.reduce(0, +)
        }, at: l.doubles, indices: Array(0..<(N * Vp)))
        #expect(GradientCheck.normalisedError(dlogits, numeric) < 1e-5)
        for n in 0..<N {
            // Pad columns: exactly zero, so the tied embedding's pad rows never move.
            #expect(dlogits[(n * Vp + V)..<((n + 1) * Vp)].allSatisfy { $0 == 0 })
        }
        #expect(dlogits[Vp..<(2 * Vp)].allSatisfy { $0 == 0 }, "masked row")
    }
}
