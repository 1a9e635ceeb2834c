// Finite-difference gradient checks in Double, and the small helpers the kernel and model tests
// share: a seeded generator, owned float buffers, normalised error measures.

/// Central differences of a scalar function, in Double.
public enum GradientCheck {
    /// (f(x + h e_i) - f(x - h e_i)) / 2h for each index i. With f in Double and h about 1e-6
    /// the truncation error (h² f''') and the rounding error (1e-16 |f| / h) both stay near 1e-10,
    /// far below the float32 rounding of the gradients under test.
    public static func numericGradient(of f: ([Double]) -> Double, at x: [Double], indices: [Int],
                                       h: Double = 1e-6) -> [Double] {
        var x = x
        return indices.map { i in
            let saved = x[i]
            x[i] = saved + h
            let fp = f(x)
            x[i] = saved - h
            let fm = f(x)
            x[i] = saved
            return (fp - fm) / (2 * h)
        }
    }

    /// max |a - b| / max(max |b|, floor): the error relative to the scale of the reference,
    /// so that near-zero components do not dominate as they would with an elementwise ratio.
    public static func normalisedError(_ a: [Double], _ b: [Double], floor: Double = 1e-12) -> Double {
        precondition(a.count == b.count, "\(a.count) values against \(b.count)")
        guard !a.isEmpty else { return 0 }
        let scale = max(b.map { abs($0) }.max() ?? 0, floor)
        return zip(a, b).map { abs($0 - $1) }.max()! / scale
    }

    public static func normalisedError(_ a: [Float], _ b: [Double], floor: Double = 1e-12) -> Double {
        normalisedError(a.map(Double.init), b, floor: floor)
    }
}

/// SplitMix64: a small seeded generator, so that every test input is reproducible.
public struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A number in 0..<n (the plain remainder, as the tests' inputs were made with).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    /// Uniform floats in [lo, hi).
    public mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<n).map { _ in Float.random(in: lo..<hi, using: &self) }
    }
    public mutating func tokens(_ n: Int, below v: Int) -> [Int32] {
        (0..<n).map { _ in Int32.random(in: 0..<Int32(v), using: &self) }
    }
}

/// A float buffer owned by the test, freed with it; `w` and `r` are the views the kernels take.
public final class TestBuffer {
    private let storage: UnsafeMutableBufferPointer<Float>
    public let w: UnsafeMutableBufferPointer<Float>
    public init(_ values: [Float]) {
        storage = .allocate(capacity: max(values.count, 1))
        storage.initialize(repeating: 0)
        w = UnsafeMutableBufferPointer(rebasing: storage[0..<values.count])
        _ = w.update(fromContentsOf: values)
    }
    public convenience init(zeros n: Int) { self.init([Float](repeating: 0, count: n)) }
    deinit { storage.deallocate() }
    public var r: UnsafeBufferPointer<Float> { UnsafeBufferPointer(w) }
    public var array: [Float] { Array(w) }
}

extension Array where Element == Float {
    public var doubles: [Double] { map(Double.init) }
}
