// Random initialisation for `tune init` (../shared/docs/FORMATS.md §7.5), GPT-2 style as in
// llm.c's train_gpt2.py and nanoGPT:
//
//   wte, wpe, qkvw, fcw          N(0, 0.02)
//   attprojw, fcprojw            N(0, 0.02 / sqrt(2L))   the residual projections: each layer adds
//                                                        two, so the stream's variance stays ~1
//   biases                       0
//   LayerNorm weights / biases   1 / 0
//   wte pad rows (V..<Vp)        0, as llm.c's files have them; no token ever reads them
//
// The values are Kiln's own, not PyTorch's (llm.c matches PyTorch's MT19937 stream; nothing here
// needs that). What matters is that a seed gives the same model bit for bit on every run, thread
// count and platform: the generator is xoshiro256** seeded through SplitMix64, and normals come
// from the Marsaglia polar form of Box–Muller in Double, using only +, -, ×, ÷ and sqrt (all
// correctly rounded by IEEE 754) and a logarithm written out here rather than the platform's libm,
// whose last bits differ between systems. Each (tensor, layer) slice has its own stream derived
// from the seed, so the result does not depend on the order slices are filled in.

import Dispatch

extension Checkpoint {
    /// A freshly initialised model; the same `seed` gives the same parameters bit for bit.
    public static func random(config: GPTConfig, seed: UInt64) -> Checkpoint {
        precondition(config.problem == nil, "cannot initialise: \(config.problem ?? "")")
        let table = ParameterTable(config)
        let std = 0.02
        let residualStd = 0.02 / Double(2 * config.numLayers).squareRoot()
        // One job per (tensor, layer) slice drawn from a normal: (first element, count, σ, stream).
        var jobs: [(start: Int, count: Int, sigma: Double, seed: UInt64)] = []
        var p = [Float](repeating: 0, count: table.total)   // biases and wte's pad rows stay zero
        for t in ParameterTensor.allCases {
            switch t {
            case .ln1w, .ln2w, .lnfw:
                for i in table.range(t) { p[i] = 1 }
            case .wte, .wpe, .qkvw, .fcw, .attprojw, .fcprojw:
                let sigma = (t == .attprojw || t == .fcprojw) ? residualStd : std
                for l in 0..<(t.isPerLayer ? config.numLayers : 1) {
                    // Only wte's first V rows are drawn.
                    jobs.append((start: t.isPerLayer ? table.offset(t, layer: l) : table.offset(t),
                                 count: t == .wte ? config.vocabSize * config.channels : table.layerCount(t),
                                 sigma: sigma, seed: streamSeed(seed, tensor: t, layer: l)))
                }
            default:
                break
            }
        }
        // Slices have their own streams and do not overlap, so filling them in parallel gives
        // the same bits as one thread (GPT-2 124M: ~5 s on one core).
        let slices = jobs
        p.withUnsafeMutableBufferPointer { buffer in
            let out = SendableBuffer(buffer)
            DispatchQueue.concurrentPerform(iterations: jobs.count) { j in
                let job = slices[j]
                var rng = Xoshiro256StarStar(seed: job.seed)
                for i in job.start ..< job.start + job.count { out.buffer[i] = Float(job.sigma * rng.nextNormal()) }
            }
        }
        return Checkpoint(config: config, parameters: p, sourceType: .float32)
    }

    /// The seed of one slice's stream: the run's seed and the slice's place, mixed by SplitMix64
    /// so that neighbouring slices get unrelated streams.
    static func streamSeed(_ seed: UInt64, tensor: ParameterTensor, layer: Int) -> UInt64 {
        var mix = SplitMix64(state: seed)
        let base = mix.next()
        var slice = SplitMix64(state: base ^ (UInt64(tensor.rawValue) << 32 | UInt64(layer)))
        return slice.next()
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference code): turns any 64-bit seed,
/// including 0, into well-mixed state words for xoshiro.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(state: UInt64) { self.state = state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0 (Blackman and Vigna 2018): a small, fast generator with 256 bits of state,
/// the same output on every platform. Also a `RandomNumberGenerator` for shuffles.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)
    /// A spare normal from the last polar pair.
    private var spare: Double?

    public init(seed: UInt64) {
        var sm = SplitMix64(state: seed)
        s = (sm.next(), sm.next(), sm.next(), sm.next())
        spare = nil
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal, by the polar method: a point uniform in the unit disc, (u, v) with
    /// s = u² + v² in (0, 1), gives two independent normals u·f and v·f, f = sqrt(-2 ln s / s).
    public mutating func nextNormal() -> Double {
        if let z = spare {
            spare = nil
            return z
        }
        while true {
            let u = 2 * nextUniform() - 1, v = 2 * nextUniform() - 1
            let s = u * u + v * v
            if s >= 1 || s == 0 { continue }
            let f = (-2 * portableLog(s) / s).squareRoot()
            spare = v * f
            return u * f
        }
    }
}

/// A buffer shared by parallel jobs that write disjoint elements.
private struct SendableBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
    init(_ buffer: UnsafeMutableBufferPointer<Float>) { self.buffer = buffer }
}

/// Natural logarithm of a positive normal Double from basic operations only, so it gives the
/// same bits everywhere (libm's `log` is accurate but not identical across systems). With
/// x = m · 2^e and m in [√½, √2), ln x = e·ln 2 + 2·atanh(t), t = (m - 1)/(m + 1), |t| < 0.172;
/// the series t + t³/3 + t⁵/5 + … has converged below 1 ulp after 12 terms (0.172^26 < 2^-64).
func portableLog(_ x: Double) -> Double {
    precondition(x > 0 && x.isNormal, "portableLog of \(x)")
    var e = Double(x.exponent)
    var m = x.significand                // [1, 2), exact
    if m > 1.4142135623730951 {          // √2: recentre so |t| stays small
        m *= 0.5
        e += 1
    }
    let t = (m - 1) / (m + 1), t2 = t * t
    // Horner form of t·Σ t^(2k)/(2k+1), k = 0...12; the coefficients are correctly rounded
    // constants, so the bits are the same on every platform.
    var sum = 1.0 / 25
    for k in stride(from: 11, through: 0, by: -1) { sum = sum * t2 + 1.0 / Double(2 * k + 1) }
    sum *= t
    return e * 0.6931471805599453 + 2 * sum
}
