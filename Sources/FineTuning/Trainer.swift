import Foundation

/// What the trainer needs from a model: one flat parameter buffer, its gradients, and a forward
/// and backward pass over a batch with per-token loss weights.
public protocol TrainableModel: AnyObject {
    var parameters: UnsafeMutableBufferPointer<Float> { get }
    var gradients: UnsafeMutableBufferPointer<Float> { get }
    /// Σ over positions of weight × cross-entropy, and Σ weights.
    func forward(_ batch: TrainingBatch) -> (lossSum: Double, weightSum: Double)
    func zeroGradients()
    /// Backward of the last forward, accumulating (+=) gradients of `lossScale` × Σ weighted
    /// losses.
    func backward(lossScale: Float)
    /// The same, calling `gradientsReady` with each range of `gradients` once the pass has
    /// finished adding to it (every range exactly once; by default all at the end).
    func backward(lossScale: Float, gradientsReady: (Range<Int>) -> Void)
    /// Floating-point operations of one forward and backward pass per trained position.
    var flopsPerToken: Double { get }
    /// For each parameter range, whether weight decay applies by default.
    var decayRanges: [(range: Range<Int>, decay: Bool)] { get }
}

extension TrainableModel {
    public func backward(lossScale: Float, gradientsReady: (Range<Int>) -> Void) {
        backward(lossScale: lossScale)
        gradientsReady(0 ..< gradients.count)
    }
}

/// Everything that decides a training run, with each default written once. The keys are those
/// of llm.c and torchtune users (`--steps`, `--batch-size`, `--lr`…).
public struct TrainOptions: Codable, Equatable, Sendable {
    public var steps = 1000
    public var batchSize = 4
    public var seqLen = 256
    public var gradAccum = 1
    public var lr = 1e-4
    public var schedule = ScheduleKind.cosine
    public var warmupSteps = 0
    public var minLrFraction = 0.1
    public var weightDecay: Float = 0.1
    /// Decay every parameter, as llm.c's CPU trainer does (default: matrices and embeddings
    /// only… see `TrainableModel.decayRanges`).
    public var decayAll = false
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var eps: Float = 1e-8
    /// Clip the global gradient norm to this; 0 turns clipping off.
    public var gradClip = 1.0
    public var seed: UInt32 = 42
    public var dataOrder = DataOrder.shuffle
    public var packing = Packing.packed
    /// Evaluate the validation data every this many steps (0: only at the end, when there is some).
    public var evalEvery = 100
    public var evalBatches = 20
    /// Save a checkpoint every this many steps (0: only at the end).
    public var saveEvery = 500
    /// Checkpoints kept (the newest).
    public var keep = 2
    /// LoRA: adapters of this rank on `loraTargets` are trained instead of the whole model
    /// (0: full fine-tuning).
    public var loraRank = 0
    public var loraAlpha = 16.0
    public var loraTargets: [LoRATarget] = [.qkv, .attnProj]

    public init() {}
    public static let defaults = TrainOptions()

    public var adam: AdamWOptions {
        var o = AdamWOptions()
        o.beta1 = beta1; o.beta2 = beta2; o.eps = eps; o.weightDecay = weightDecay
        return o
    }

    public var lora: LoRAOptions {
        var o = LoRAOptions()
        o.rank = loraRank; o.alpha = loraAlpha; o.targets = loraTargets
        return o
    }

    public var learningRate: LearningRateSchedule {
        LearningRateSchedule(kind: schedule, maxLR: lr, warmupSteps: warmupSteps, totalSteps: steps,
                             minFraction: minLrFraction)
    }
}

/// One line of `metrics.jsonl`.
public struct StepMetrics: Codable, Equatable, Sendable {
    public var step: Int
    public var loss: Double
    public var valLoss: Double?
    public var lr: Double
    public var gradNorm: Double
    public var trainedTokens: Double
    public var tokensPerSecond: Double
    public var gflops: Double
    public var elapsed: Double
    /// With several replicas (`mpirun -np N`): seconds of the step spent in the sums between
    /// them (the transfers, and the wait for the slowest replica). Absent for a single process.
    /// Trained tokens, tokens/s and GFLOP/s count every replica's rows.
    public var communicationSeconds: Double?

    public init(step: Int, loss: Double, valLoss: Double?, lr: Double, gradNorm: Double, trainedTokens: Double,
                tokensPerSecond: Double, gflops: Double, elapsed: Double, communicationSeconds: Double? = nil) {
        self.step = step; self.loss = loss; self.valLoss = valLoss; self.lr = lr; self.gradNorm = gradNorm
        self.trainedTokens = trainedTokens; self.tokensPerSecond = tokensPerSecond; self.gflops = gflops
        self.elapsed = elapsed; self.communicationSeconds = communicationSeconds
    }
}

public enum TrainError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, lastCheckpoint: Int?)
    case interrupted(step: Int, signal: Int32)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, last):
            return "the loss is not finite at step \(step + 1); stopped" +
                (last.map { ", the last good checkpoint is step \($0)" } ?? " (no checkpoint was written)")
        case let .interrupted(step, signal):
            return "signal \(signal) after step \(step): checkpoint written, rerun with --resume"
        }
    }
}

/// The optimisation loop: gradient accumulation normalised by the trained tokens of the whole
/// step, global-norm clipping, the schedule, AdamW; evaluation, checkpoints and metrics through
/// callbacks so that files stay the caller's business.
///
/// With `replicas`, each replica's loader reads its own rows of each step (see `BatchLoader`'s
/// rank and world size) and the step's trained tokens, gradients and loss are summed over the
/// replicas before clipping and the update: N replicas of batch B take the step of one process
/// with batch N×B, up to the order of the floating-point sums.
public final class Trainer {
    public let model: TrainableModel
    public let options: TrainOptions
    public let optimizer: AdamW
    public var loader: BatchLoader
    public let replicas: ReplicaGroup?
    /// With replicas: send each range of gradients as soon as the last micro-batch's backward
    /// has finished it (non-blocking sums, pushed along between layers), instead of all of them
    /// after the backward. The sums are the same either way.
    public var overlapsCommunication = true
    /// The next step to run (from 0).
    public private(set) var step = 0

    public init(model: TrainableModel, options: TrainOptions, loader: BatchLoader, replicas: ReplicaGroup? = nil) {
        self.model = model
        self.options = options
        self.loader = loader
        self.replicas = replicas
        let ranges = options.decayAll ? [(range: 0..<model.parameters.count, decay: true)] : model.decayRanges
        optimizer = AdamW(count: model.parameters.count, decayRanges: ranges, options: options.adam)
    }

    /// Restores a saved state: the optimizer, the step and the data position.
    public func restore(_ state: TrainState) {
        optimizer.restore(m: state.m, v: state.v, step: state.optimizerStep)
        step = state.step
        loader.seek(to: state.data)
    }

    /// The state to save after the steps run so far.
    public func state() -> TrainState {
        TrainState(step: step, optimizerStep: optimizer.step, data: loader.position, m: optimizer.m, v: optimizer.v)
    }

    /// Runs one optimisation step and returns its metrics (without validation loss).
    public func trainStep(startedAt: Date) throws -> StepMetrics {
        let t0 = Date()
        let micro = (0..<options.gradAccum).map { _ in loader.next() }
        var communication = 0.0
        func timed<R>(_ body: () throws -> R) rethrows -> R {
            let t = Date()
            defer { communication += Date().timeIntervalSince(t) }
            return try body()
        }
        // The whole step's trained tokens (of every replica) normalise every micro-batch, so
        // accumulation gives the update of the big batch (and a step of mostly padding is not
        // over-weighted).
        var total = micro.reduce(0.0) { $0 + $1.trainedTokens }
        if let replicas { total = try timed { try replicas.summed([total])[0] } }
        model.zeroGradients()
        var lossSum = 0.0
        if total > 0 {
            for (k, b) in micro.enumerated() {
                lossSum += model.forward(b).lossSum
                if let replicas, overlapsCommunication, k == micro.count - 1 {
                    // The gradients are final once the last micro-batch's backward has added to
                    // them: each range is sent as soon as that pass is done with it.
                    let grads = model.gradients
                    var failure: Error? = nil
                    model.backward(lossScale: Float(1 / total)) { range in
                        guard failure == nil else { return }
                        do {
                            try timed {
                                try replicas.startSum(UnsafeMutableBufferPointer(rebasing: grads[range]))
                                try replicas.progressSums()
                            }
                        } catch { failure = error }
                    }
                    if let failure { throw failure }
                } else {
                    model.backward(lossScale: Float(1 / total))
                }
            }
            if let replicas {
                try timed {
                    if overlapsCommunication { try replicas.finishSums() } else { try replicas.sum(model.gradients) }
                    lossSum = try replicas.summed([lossSum])[0]
                }
            }
        }
        let loss = total > 0 ? lossSum / total : 0
        guard loss.isFinite else { throw TrainError.nonFiniteLoss(step: step, lastCheckpoint: nil) }
        let grads = model.gradients
        let norm = gradientNorm(UnsafeBufferPointer(grads))
        guard norm.isFinite else { throw TrainError.nonFiniteLoss(step: step, lastCheckpoint: nil) }
        if options.gradClip > 0 && norm > options.gradClip {
            let scale = Float(options.gradClip / norm)
            for i in grads.indices { grads[i] *= scale }
        }
        let lr = options.learningRate.rate(at: step)
        if total > 0 {
            optimizer.update(params: model.parameters, grads: UnsafeBufferPointer(grads), lr: Float(lr))
        }
        step += 1
        let seconds = max(1e-9, Date().timeIntervalSince(t0))
        // Every replica trains as many positions per step.
        let positions = Double(micro.reduce(0) { $0 + $1.B * $1.T } * (replicas?.size ?? 1))
        return StepMetrics(step: step, loss: loss, valLoss: nil, lr: lr, gradNorm: norm, trainedTokens: total,
                           tokensPerSecond: positions / seconds,
                           gflops: positions * model.flopsPerToken / seconds / 1e9,
                           elapsed: Date().timeIntervalSince(startedAt),
                           communicationSeconds: replicas == nil ? nil : communication)
    }

    /// Mean loss per trained token over up to `batches` batches of `loader` (no gradients kept);
    /// with replicas, over the rows of every replica's loader.
    public func evaluate(_ loader: inout BatchLoader, batches: Int) throws -> Double {
        var loss = 0.0, weight = 0.0
        for _ in 0..<max(1, batches) {
            let r = model.forward(loader.next())
            loss += r.lossSum
            weight += r.weightSum
        }
        if let replicas {
            let s = try replicas.summed([loss, weight])
            loss = s[0]; weight = s[1]
        }
        return weight > 0 ? loss / weight : .nan
    }
}

/// What a checkpoint needs besides the model's weights to continue bit for bit.
public struct TrainState: Equatable, Sendable {
    public var step: Int
    public var optimizerStep: Int
    public var data: DataPosition
    public var m: [Float]
    public var v: [Float]

    public init(step: Int, optimizerStep: Int, data: DataPosition, m: [Float], v: [Float]) {
        self.step = step
        self.optimizerStep = optimizerStep
        self.data = data
        self.m = m
        self.v = v
    }
}
