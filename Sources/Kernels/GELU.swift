// GELU, tanh form (OpenAI GPT-2, HF "gelu_new", llm.c gelu_forward/backward; FORMATS.md §7.4).
//
//   inp, out: (N)   out = 0.5 x (1 + tanh(u)),  u = sqrt(2/π) (x + 0.044715 x³)
//
// Elementwise, so N is just the element count (B*T*4C in the MLP).

import Foundation

public enum GELU {
    /// sqrt(2/π), as llm.c computes it in float.
    public static let scale: Float = 0.7978845608028654
    public static let cubic: Float = 0.044715

    public static func forward(out: UnsafeMutableBufferPointer<Float>, inp: UnsafeBufferPointer<Float>,
                               N: Int, threads: Int) {
        precondition(out.count >= N && inp.count >= N)
        guard N > 0, let y = out.baseAddress, let x = inp.baseAddress else { return }
        let s = F16(repeating: scale), c = F16(repeating: cubic), half = F16(repeating: 0.5), one = F16(repeating: 1)
        @inline(__always) func gelu(_ v: F16) -> F16 {
            let u = s * (v + c * v * v * v)
            return half * v * (one + SIMDMath.tanh(u))
        }
        Parallel.forEachChunk((N + 15) / 16, threads: threads, grain: 1024) { _, blocks in
            for b in blocks {
                let i = b * 16
                if i + 16 <= N {
                    store16(gelu(load16(x + i)), y + i)
                } else {
                    storePartial(gelu(loadPartial(x + i, N - i)), y + i, N - i)
                }
            }
        }
    }

    /// Accumulates: dinp += dout · gelu'(inp), with
    /// gelu'(x) = 0.5 (1 + tanh u) + 0.5 x sech²(u) · sqrt(2/π) (1 + 3 · 0.044715 x²).
    /// dinp must not alias dout.
    public static func backward(dinp: UnsafeMutableBufferPointer<Float>, inp: UnsafeBufferPointer<Float>,
                                dout: UnsafeBufferPointer<Float>, N: Int, threads: Int) {
        precondition(dinp.count >= N && inp.count >= N && dout.count >= N)
        guard N > 0, let dx = dinp.baseAddress, let x = inp.baseAddress, let dy = dout.baseAddress else { return }
        let s = F16(repeating: scale), c = F16(repeating: cubic), c3 = F16(repeating: 3 * cubic)
        let half = F16(repeating: 0.5), one = F16(repeating: 1)
        @inline(__always) func grad(_ v: F16) -> F16 {
            let v2 = v * v
            let t = SIMDMath.tanh(s * (v + c * v2 * v))
            return half * (one + t) + half * v * (one - t * t) * s * (one + c3 * v2)
        }
        Parallel.forEachChunk((N + 15) / 16, threads: threads, grain: 1024) { _, blocks in
            for b in blocks {
                let i = b * 16
                if i + 16 <= N {
                    store16(load16(dx + i) + grad(load16(x + i)) * load16(dy + i), dx + i)
                } else {
                    let n = N - i
                    storePartial(loadPartial(dx + i, n) + grad(loadPartial(x + i, n)) * loadPartial(dy + i, n), dx + i, n)
                }
            }
        }
    }

    /// Reference: the definition, in Double.
    public static func naiveForward(_ inp: [Double]) -> [Double] {
        inp.map { x in
            let u = Double(scale) * (x + Double(cubic) * x * x * x)
            return 0.5 * x * (1 + Foundation.tanh(u))
        }
    }
}
