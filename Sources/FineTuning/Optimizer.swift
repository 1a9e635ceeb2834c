import Foundation

/// AdamW with decoupled weight decay (Loshchilov & Hutter), in llm.c's single-expression form
/// (../shared/docs/FORMATS.md §7.1, equal to PyTorch's `AdamW` in exact arithmetic):
///
///     m = β1·m + (1−β1)·g          v = β2·v + (1−β2)·g²
///     p −= lr · ( m/(1−β1^t) / (sqrt(v/(1−β2^t)) + ε)  +  wd·p )
///
/// Weight decay applies per range of the flat parameter buffer (`decay` flags), so the caller
/// decides which tensors decay (by default only the matrices, as PyTorch users configure it;
/// llm.c's CPU trainer decays everything).
public struct AdamWOptions: Codable, Equatable, Sendable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0.1
    public init() {}
}

public final class AdamW {
    public let options: AdamWOptions
    /// Moments, one allocation each, laid out like the parameters.
    public private(set) var m: [Float]
    public private(set) var v: [Float]
    /// Updates done so far (t of the bias correction is step + 1).
    public private(set) var step = 0
    /// For each parameter range, whether weight decay applies.
    public let decayRanges: [(range: Range<Int>, decay: Bool)]

    public init(count: Int, decayRanges: [(range: Range<Int>, decay: Bool)], options: AdamWOptions) {
        precondition(decayRanges.reduce(0) { $0 + $1.range.count } == count, "decay ranges must cover the parameters")
        self.options = options
        self.decayRanges = decayRanges
        m = [Float](repeating: 0, count: count)
        v = [Float](repeating: 0, count: count)
    }

    /// Restores moments and step from a state file.
    public func restore(m: [Float], v: [Float], step: Int) {
        precondition(m.count == self.m.count && v.count == self.v.count)
        self.m = m
        self.v = v
        self.step = step
    }

    /// One update of `params` with gradients `grads` (already scaled, e.g. by clipping).
    public func update(params: UnsafeMutableBufferPointer<Float>, grads: UnsafeBufferPointer<Float>, lr: Float) {
        precondition(params.count == m.count && grads.count == m.count)
        step += 1
        let o = options
        let c1 = 1 - powf(o.beta1, Float(step)), c2 = 1 - powf(o.beta2, Float(step))
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                for (range, decay) in decayRanges {
                    let wd: Float = decay ? o.weightDecay : 0
                    for i in range {
                        let g = grads[i]
                        let mi = o.beta1 * m[i] + (1 - o.beta1) * g
                        let vi = o.beta2 * v[i] + (1 - o.beta2) * g * g
                        m[i] = mi
                        v[i] = vi
                        let mh = mi / c1, vh = vi / c2
                        params[i] -= lr * (mh / (vh.squareRoot() + o.eps) + wd * params[i])
                    }
                }
            }
        }
    }
}

/// Global L2 norm of the gradients, accumulated in Double so the result does not depend on
/// how the buffer is split.
public func gradientNorm(_ g: UnsafeBufferPointer<Float>) -> Double {
    var s = 0.0
    for x in g { s += Double(x) * Double(x) }
    return s.squareRoot()
}

/// Learning-rate schedules: linear warmup from 0 (llm.c's `(step+1)/warmup`), then the shape.
public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    case cosine, linear, constant
    /// Warmup-stable-decay: constant after warmup, then a linear decay over the last
    /// `decayFraction` of the steps.
    case wsd
}

public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public var kind: ScheduleKind
    public var maxLR: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    /// The final learning rate as a fraction of the peak.
    public var minFraction: Double
    /// WSD: the share of the steps spent decaying.
    public var decayFraction: Double = 0.2

    public init(kind: ScheduleKind, maxLR: Double, warmupSteps: Int, totalSteps: Int, minFraction: Double,
                decayFraction: Double = 0.2) {
        self.kind = kind
        self.maxLR = maxLR
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minFraction = minFraction
        self.decayFraction = decayFraction
    }

    /// The learning rate of step `step` (from 0).
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return maxLR * Double(step + 1) / Double(warmupSteps) }
        let minLR = maxLR * minFraction
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(span))
        switch kind {
        case .constant: return maxLR
        case .linear: return maxLR - (maxLR - minLR) * progress
        case .cosine: return minLR + 0.5 * (maxLR - minLR) * (1 + cos(Double.pi * progress))
        case .wsd:
            let decaySteps = max(1, Int((Double(totalSteps) * decayFraction).rounded()))
            let decayStart = totalSteps - decaySteps
            if step < decayStart { return maxLR }
            return maxLR - (maxLR - minLR) * min(1, Double(step - decayStart) / Double(decaySteps))
        }
    }
}
