import Foundation
import Testing
@testable import Kernels

@Suite struct SIMDMathTests {
    @Test func expMatchesFoundationOverTheWholeRange() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let got = Double(SIMDMath.exp(F16(repeating: x) + F16((0..<16).map { Float($0) * 1e-3 }))[3])
            let want = Foundation.exp(Double(x + 3e-3))
            worst = max(worst, abs(got - want) / want)
            x += 0.173
        }
        #expect(worst < 1e-6, "worst relative error \(worst)")
    }

    @Test func expClampsInsteadOfOverflowing() {
        let v = SIMDMath.exp(F16(repeating: -1000))
        #expect(v[0] >= 0 && v[0] < 1e-37)
        #expect(SIMDMath.exp(F16(repeating: 1000))[0].isFinite)
    }

    @Test func tanhMatchesFoundation() {
        var worst = 0.0
        var u: Float = -30
        while u < 30 {
            worst = max(worst, abs(Double(SIMDMath.tanh(F16(repeating: u))[0]) - Foundation.tanh(Double(u))))
            u += 0.0137
        }
        #expect(worst < 1e-6, "worst absolute error \(worst)")
        #expect(SIMDMath.tanh(F16(repeating: 50))[0] == 1)
        #expect(SIMDMath.tanh(F16(repeating: -50))[0] == -1)
    }
}
