import FineTuning
import Foundation
import Testing

@Suite struct OptimizerTests {
    /// AdamW against PyTorch's evaluation order in Double (decay first, then the Adam step),
    /// over several steps; decay only on the ranges flagged.
    @Test func adamWMatchesPyTorchsFormula() {
        var o = AdamWOptions()
        o.beta1 = 0.9; o.beta2 = 0.95; o.eps = 1e-8; o.weightDecay = 0.1
        let n = 37
        var params = (0..<n).map { Float(sin(Double($0))) }
        var ref = params.map(Double.init)
        var m = [Double](repeating: 0, count: n), v = m
        let opt = AdamW(count: n, decayRanges: [(0..<20, true), (20..<n, false)], options: o)
        for step in 1...5 {
            let grads = (0..<n).map { Float(cos(Double($0 * step)) * 0.01 * Double(step)) }
            let lr: Float = 3e-3
            params.withUnsafeMutableBufferPointer { p in grads.withUnsafeBufferPointer { opt.update(params: p, grads: $0, lr: lr) } }
            for i in 0..<n {
                let g = Double(grads[i])
                if i < 20 { ref[i] *= 1 - Double(lr) * 0.1 }
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.95 * v[i] + 0.05 * g * g
                let mh = m[i] / (1 - pow(0.9, Double(step))), vh = v[i] / (1 - pow(0.95, Double(step)))
                ref[i] -= Double(lr) * mh / (vh.squareRoot() + 1e-8)
            }
        }
        for i in 0..<n { #expect(abs(Double(params[i]) - ref[i]) < 1e-6, "param \(i)") }
        #expect(opt.step == 5)
    }

    @Test func schedules() {
        let cos = LearningRateSchedule(kind: .cosine, maxLR: 1e-3, warmupSteps: 10, totalSteps: 110, minFraction: 0.1)
        #expect(cos.rate(at: 0) == 1e-4)
        #expect(abs(cos.rate(at: 9) - 1e-3) < 1e-15)
        #expect(abs(cos.rate(at: 10) - 1e-3) < 1e-15)
        #expect(abs(cos.rate(at: 60) - 5.5e-4) < 1e-12)
        #expect(abs(cos.rate(at: 110) - 1e-4) < 1e-12)
        let lin = LearningRateSchedule(kind: .linear, maxLR: 1, warmupSteps: 0, totalSteps: 100, minFraction: 0)
        #expect(abs(lin.rate(at: 25) - 0.75) < 1e-12)
        let constant = LearningRateSchedule(kind: .constant, maxLR: 2, warmupSteps: 0, totalSteps: 10, minFraction: 0)
        #expect(constant.rate(at: 9) == 2)
        let wsd = LearningRateSchedule(kind: .wsd, maxLR: 1, warmupSteps: 5, totalSteps: 100, minFraction: 0, decayFraction: 0.2)
        #expect(wsd.rate(at: 50) == 1 && wsd.rate(at: 79) == 1)
        #expect(abs(wsd.rate(at: 90) - 0.5) < 1e-12)
        #expect(wsd.rate(at: 100) == 0)
    }

    @Test func gradientNormInDouble() {
        let g: [Float] = [3, 4, 0, 0]
        #expect(g.withUnsafeBufferPointer { gradientNorm($0) } == 5)
    }
}
