// SIMD building blocks shared by the kernels: unaligned 16-float loads and stores, and exp/tanh
// on 16 lanes.
//
// Swift's default x86-64 target has SSE2 only, and Foundation's exp/tanh are scalar calls; the
// softmax over 50k logits and GELU over (B, T, 4C) would spend more time in them than in the
// matrix products around them. These versions use only +, *, min/max and integer shifts, which
// compile to SSE2 vector instructions (SWIFT-NOTES: avoid addProduct, which becomes fmaf calls).

public typealias F16 = SIMD16<Float>

@inline(__always) func load16(_ p: UnsafePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}
@inline(__always) func load16(_ p: UnsafeMutablePointer<Float>) -> F16 {
    UnsafeRawPointer(p).loadUnaligned(as: F16.self)
}
@inline(__always) func store16(_ v: F16, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F16.self)
}
/// Loads `n < 16` floats, the other lanes `fill`.
@inline(__always) func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> F16 {
    var v = F16(repeating: fill)
    for i in 0..<n { v[i] = p[i] }
    return v
}
@inline(__always) func storePartial(_ v: F16, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}

/// Lane-wise max and min as a compare and a select. The standard library's pointwiseMax/Min and
/// clamped(lowerBound:upperBound:) follow IEEE maximum/minimum for NaN and compile to a loop
/// over the 16 lanes on SSE2; these do not, and NaN handling is not needed where they are used.
@inline(__always) func vmax(_ a: F16, _ b: F16) -> F16 { a.replacing(with: b, where: b .> a) }
@inline(__always) func vmin(_ a: F16, _ b: F16) -> F16 { a.replacing(with: b, where: b .< a) }
@inline(__always) func clamp(_ x: F16, _ lo: F16, _ hi: F16) -> F16 { vmax(vmin(x, hi), lo) }

public enum SIMDMath {
    /// e^x on 16 lanes, relative error about 2e-7 (Cephes expf: x = n ln2 + r with |r| <= ln2/2,
    /// a degree-6 polynomial for e^r, 2^n built in the exponent bits). Inputs are clamped to
    /// [-87.3, 88], so the result is finite and at least the smallest normal float (e^-87.3 ≈
    /// 1.2e-38): callers that need exact zeros (masked attention) skip those entries instead.
    @inline(__always)
    public static func exp(_ x: F16) -> F16 {
        let x = clamp(x, F16(repeating: -87.3), F16(repeating: 88.0))
        // Adding 1.5·2^23 rounds x·log2(e) to the nearest integer n (no SSE4 round needed) and
        // leaves n in the low mantissa bits of t.
        let magic = F16(repeating: 12582912.0)
        let t = x * F16(repeating: 1.44269504088896341) + magic
        let n = t - magic
        // r = x - n ln2, with ln2 split in two so that n·ln2_hi is exact.
        var r = x - n * F16(repeating: 0.693359375)
        r = r - n * F16(repeating: -2.12194440e-4)
        var p = F16(repeating: 1.9875691500e-4)
        p = p * r + F16(repeating: 1.3981999507e-3)
        p = p * r + F16(repeating: 8.3334519073e-3)
        p = p * r + F16(repeating: 4.1665795894e-2)
        p = p * r + F16(repeating: 1.6666665459e-1)
        p = p * r + F16(repeating: 5.0000001201e-1)
        p = p * (r * r) + r + F16(repeating: 1)
        // 2^n: the integer n sits in t's bits as 0x4B400000 + n; move it into the exponent field.
        let ti = unsafeBitCast(t, to: SIMD16<Int32>.self)
        let e = (ti &- SIMD16<Int32>(repeating: 0x4B40_0000 - 127)) &<< 23
        return p * unsafeBitCast(e, to: F16.self)
    }

    /// tanh on 16 lanes as 1 - 2 / (e^{2u} + 1): absolute error about 2e-7, exactly ±1 far out.
    @inline(__always)
    public static func tanh(_ u: F16) -> F16 {
        let one = F16(repeating: 1)
        return one - F16(repeating: 2) / (exp(u + u) + one)
    }

    /// e^x for one float through the vector path, so that tails of rows round like their bodies.
    @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(F16(repeating: x))[0] }
}
