// GPT-2: the model, its forward pass and its backward pass (llm.c train_gpt2.c gpt2_forward,
// gpt2_backward), on the kernels of the Kernels module.
//
//   parameters, gradients: (ParameterTable.total) each, in llm.c's checkpoint order
//   activations: one allocation for the current (B, T), see GPTActivations
//
// The backward pass is the forward pass in reverse, layer by layer, so the two can be read
// against each other.

import Foundation
import Kernels

public final class GPT {
    public let config: GPTConfig
    public let table: ParameterTable
    /// Threads for the Swift kernels (LayerNorm, attention softmax, GELU, cross-entropy…).
    /// OpenBLAS threads the matrix products itself: set `BLAS.threads` for those.
    public var threads: Int {
        didSet { precondition(threads >= 1, "threads must be at least 1, not \(threads)") }
    }

    private let params: UnsafeMutableBufferPointer<Float>
    private var grads: UnsafeMutableBufferPointer<Float>?
    private var acts: GPTActivations?

    /// The last forward's batch (and its positions), which backward needs.
    private var batch: TokenBatch?
    private var positions: [Int32] = []
    /// After backward the logits buffer holds their gradients.
    private var logitsAreGradients = false

    /// Copies `parameters` (llm.c order, `ParameterTable(config).total` floats) into the model's
    /// one parameter allocation.
    public init(config: GPTConfig, parameters: [Float], threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        precondition(config.problem == nil, config.problem ?? "")
        let table = ParameterTable(config)
        precondition(parameters.count == table.total,
                     "\(parameters.count) parameters for a model of \(table.total) (\(config))")
        self.config = config
        self.table = table
        precondition(threads >= 1, "threads must be at least 1, not \(threads)")
        self.threads = threads
        params = .allocate(capacity: table.total)
        _ = params.initialize(from: parameters)
    }

    deinit {
        params.deallocate()
        grads?.deallocate()
    }

    /// All parameters, in llm.c's checkpoint order.
    public var parameters: UnsafeMutableBufferPointer<Float> { params }

    /// The gradient of every parameter, laid out as `parameters`; allocated (zeroed) on first use.
    public var gradients: UnsafeMutableBufferPointer<Float> {
        if let g = grads { return g }
        let g = UnsafeMutableBufferPointer<Float>.allocate(capacity: table.total)
        g.initialize(repeating: 0)
        grads = g
        return g
    }

    public func zeroGradients() { grads?.update(repeating: 0) }

    /// Floating-point operations of one forward and backward pass per token: 6 × parameters
    /// (2 per parameter for the forward products, 4 for the backward ones; the tied head counts
    /// once, through wte). Attention's own QKᵀ and AV products, 12·L·C·T per token, which
    /// nanoGPT's MFU estimate adds, are left out: `GPTBenchmark` reports them apart.
    public var flopsPerToken: Double { 6 * Double(table.total) }

    /// Bytes of the activation allocation for a (B, T) batch.
    public static func activationBytes(config: GPTConfig, B: Int, T: Int) -> Int {
        GPTActivations.bytes(config: config, B: B, T: T)
    }

    // MARK: Views into the one allocations

    func p(_ t: ParameterTensor) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: params[table.range(t)])
    }
    func p(_ t: ParameterTensor, _ l: Int) -> UnsafeBufferPointer<Float> {
        let o = table.offset(t, layer: l)
        return UnsafeBufferPointer(rebasing: params[o ..< o + table.layerCount(t)])
    }
    private func g(_ t: ParameterTensor) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: gradients[table.range(t)])
    }
    private func g(_ t: ParameterTensor, _ l: Int) -> UnsafeMutableBufferPointer<Float> {
        let o = table.offset(t, layer: l)
        return UnsafeMutableBufferPointer(rebasing: gradients[o ..< o + table.layerCount(t)])
    }

    private func activations(B: Int, T: Int) -> GPTActivations {
        if let a = acts, a.B == B, a.T == T { return a }
        acts = nil  // free the old layout before making the new one
        let a = GPTActivations(config: config, B: B, T: T)
        acts = a
        return a
    }

    // MARK: Forward

    /// Runs the model on `batch` and returns the weighted sum of the per-token cross-entropy
    /// losses and the sum of the weights (mean loss = lossSum / weightSum).
    /// Precondition: `batch.problem(for: config) == nil` (tokens in the vocabulary, T <= maxT).
    @discardableResult
    public func forward(_ batch: TokenBatch) -> (lossSum: Double, weightSum: Double) {
        if let problem = batch.problem(for: config) { preconditionFailure(problem) }
        let B = batch.B, T = batch.T, C = config.channels, NH = config.numHeads, L = config.numLayers
        let N = B * T, V = config.vocabSize, Vp = config.paddedVocabSize, th = threads
        let a = activations(B: B, T: T)
        self.batch = batch
        positions = batch.positions
        logitsAreGradients = false

        positions.withUnsafeBufferPointer { pos in
            batch.inputs.withUnsafeBufferPointer { tok in
                Encoder.forward(out: a[.encoded], tokens: tok, positions: pos, wte: p(.wte), wpe: p(.wpe),
                                N: N, C: C, threads: th)
            }
        }
        withOptional(batch.documentIDs) { ids in
            for l in 0..<L {
                let residual = l == 0 ? a[.encoded] : a[.residual3, layer: l - 1]
                LayerNorm.forward(out: a[.ln1, layer: l], mean: a[.ln1Mean, layer: l], rstd: a[.ln1Rstd, layer: l],
                                  inp: residual.ro, weight: p(.ln1w, l), bias: p(.ln1b, l), N: N, C: C, threads: th)
                Matmul.forward(out: a[.qkv, layer: l], inp: a[.ln1, layer: l].ro, weight: p(.qkvw, l),
                               bias: p(.qkvb, l), N: N, C: C, OC: 3 * C, threads: th)
                Attention.forward(out: a[.atty, layer: l], att: a[.att, layer: l], qkv: a[.qkv, layer: l].ro,
                                  documentIDs: ids, B: B, T: T, C: C, NH: NH, threads: th)
                Matmul.forward(out: a[.proj], inp: a[.atty, layer: l].ro, weight: p(.attprojw, l),
                               bias: p(.attprojb, l), N: N, C: C, OC: C, threads: th)
                Residual.forward(out: a[.residual2, layer: l], a: residual.ro, b: a[.proj].ro, N: N * C, threads: th)
                LayerNorm.forward(out: a[.ln2, layer: l], mean: a[.ln2Mean, layer: l], rstd: a[.ln2Rstd, layer: l],
                                  inp: a[.residual2, layer: l].ro, weight: p(.ln2w, l), bias: p(.ln2b, l),
                                  N: N, C: C, threads: th)
                Matmul.forward(out: a[.fch, layer: l], inp: a[.ln2, layer: l].ro, weight: p(.fcw, l),
                               bias: p(.fcb, l), N: N, C: C, OC: 4 * C, threads: th)
                GELU.forward(out: a[.fchGelu, layer: l], inp: a[.fch, layer: l].ro, N: N * 4 * C, threads: th)
                Matmul.forward(out: a[.proj], inp: a[.fchGelu, layer: l].ro, weight: p(.fcprojw, l),
                               bias: p(.fcprojb, l), N: N, C: 4 * C, OC: C, threads: th)
                Residual.forward(out: a[.residual3, layer: l], a: a[.residual2, layer: l].ro, b: a[.proj].ro,
                                 N: N * C, threads: th)
            }
        }
        LayerNorm.forward(out: a[.lnf], mean: a[.lnfMean], rstd: a[.lnfRstd], inp: a[.residual3, layer: L - 1].ro,
                          weight: p(.lnfw), bias: p(.lnfb), N: N, C: C, threads: th)
        // The output head is tied to the token embedding: logits = lnf · wteᵀ over all Vp rows.
        Matmul.forward(out: a[.logits], inp: a[.lnf].ro, weight: p(.wte), bias: nil, N: N, C: C, OC: Vp, threads: th)
        batch.targets.withUnsafeBufferPointer { tg in
            withOptional(batch.weights) { w in
                SoftmaxCrossEntropy.forward(losses: a[.losses], lse: a[.lse], logits: a[.logits].ro, targets: tg,
                                            weights: w, N: N, V: V, Vp: Vp, threads: th)
            }
        }
        var lossSum = 0.0, weightSum = 0.0
        let losses = a[.losses]
        for i in 0..<N {
            let w = Double(batch.weights?[i] ?? 1)
            lossSum += w * Double(losses[i])
            weightSum += w
        }
        return (lossSum, weightSum)
    }

    /// The last forward's per-token losses (B*T; 0 where the weight is 0).
    public var tokenLosses: [Float] {
        guard let a = acts, batch != nil else { return [] }
        return Array(a[.losses])
    }

    /// The last forward's logits at row b, position t: Vp floats, of which the first V are real
    /// tokens. Valid until `backward`, which turns them into gradients.
    public func logits(b: Int, t: Int) -> [Float] {
        guard let a = acts, let batch else { preconditionFailure("logits before forward") }
        precondition(!logitsAreGradients, "logits were overwritten by backward")
        precondition(b >= 0 && b < batch.B && t >= 0 && t < batch.T)
        let Vp = config.paddedVocabSize, o = (b * batch.T + t) * Vp
        return Array(a[.logits][o ..< o + Vp])
    }

    // MARK: Backward

    /// Backward pass of the last forward. Each token's loss enters with weight
    /// weights[i] · lossScale, and the gradients accumulate (+=) into `gradients`: for gradient
    /// accumulation over micro-batches normalised by the trained tokens, use
    /// lossScale = 1 / (total weight of all micro-batches). Call once per forward.
    public func backward(lossScale: Float) {
        backward(lossScale: lossScale) { _ in }
    }

    /// `backward(lossScale:)` that also calls `gradientsReady` with each range of `gradients`
    /// as soon as this pass has finished adding to it: the per-layer tensors of each layer from
    /// the top layer down, then wte, wpe and the final LayerNorm. Data-parallel training sends
    /// the top layers' gradients while the lower layers' backward runs.
    public func backward(lossScale: Float, gradientsReady: (Range<Int>) -> Void) {
        guard let a = acts, let batch else { preconditionFailure("backward before forward") }
        precondition(!logitsAreGradients, "backward called twice for one forward")
        let B = batch.B, T = batch.T, C = config.channels, NH = config.numHeads, L = config.numLayers
        let N = B * T, V = config.vocabSize, Vp = config.paddedVocabSize, th = threads
        _ = gradients
        logitsAreGradients = true

        batch.targets.withUnsafeBufferPointer { tg in
            withOptional(batch.weights) { w in
                SoftmaxCrossEntropy.backward(logits: a[.logits], lse: a[.lse].ro, targets: tg, weights: w,
                                             scale: lossScale, N: N, V: V, Vp: Vp, threads: th)
            }
        }
        a[.dln].zero()
        Matmul.backward(dinp: a[.dln], dweight: g(.wte), dbias: nil, dout: a[.logits].ro, inp: a[.lnf].ro,
                        weight: p(.wte), N: N, C: C, OC: Vp, threads: th)
        a[.dresidual].zero()
        LayerNorm.backward(dinp: a[.dresidual], dweight: g(.lnfw), dbias: g(.lnfb), dout: a[.dln].ro,
                           inp: a[.residual3, layer: L - 1].ro, weight: p(.lnfw), mean: a[.lnfMean].ro,
                           rstd: a[.lnfRstd].ro, N: N, C: C, threads: th)
        // `dresidual` holds d(loss)/d(residual stream) at the top of the current layer. The
        // gradient of a sum reaches both addends unchanged, so at each residual connection it is
        // at once the gradient of the projection output and of the skip path (llm.c's
        // residual_backward would copy it twice); the LayerNorm backward passes then add the
        // branch's contribution into it.
        for l in stride(from: L - 1, through: 0, by: -1) {
            let residual = l == 0 ? a[.encoded] : a[.residual3, layer: l - 1]
            // MLP: residual3 = residual2 + fcproj(gelu(fc(ln2(residual2))))
            a[.dfchGelu].zero()
            Matmul.backward(dinp: a[.dfchGelu], dweight: g(.fcprojw, l), dbias: g(.fcprojb, l),
                            dout: a[.dresidual].ro, inp: a[.fchGelu, layer: l].ro, weight: p(.fcprojw, l),
                            N: N, C: 4 * C, OC: C, threads: th)
            a[.dfch].zero()
            GELU.backward(dinp: a[.dfch], inp: a[.fch, layer: l].ro, dout: a[.dfchGelu].ro, N: N * 4 * C, threads: th)
            a[.dln].zero()
            Matmul.backward(dinp: a[.dln], dweight: g(.fcw, l), dbias: g(.fcb, l), dout: a[.dfch].ro,
                            inp: a[.ln2, layer: l].ro, weight: p(.fcw, l), N: N, C: C, OC: 4 * C, threads: th)
            LayerNorm.backward(dinp: a[.dresidual], dweight: g(.ln2w, l), dbias: g(.ln2b, l), dout: a[.dln].ro,
                               inp: a[.residual2, layer: l].ro, weight: p(.ln2w, l), mean: a[.ln2Mean, layer: l].ro,
                               rstd: a[.ln2Rstd, layer: l].ro, N: N, C: C, threads: th)
            // Attention: residual2 = residual + attproj(attention(qkv(ln1(residual))))
            a[.datty].zero()
            Matmul.backward(dinp: a[.datty], dweight: g(.attprojw, l), dbias: g(.attprojb, l),
                            dout: a[.dresidual].ro, inp: a[.atty, layer: l].ro, weight: p(.attprojw, l),
                            N: N, C: C, OC: C, threads: th)
            a[.dqkv].zero()
            Attention.backward(dqkv: a[.dqkv], datt: a[.datt], dout: a[.datty].ro, qkv: a[.qkv, layer: l].ro,
                               att: a[.att, layer: l].ro, B: B, T: T, C: C, NH: NH, threads: th)
            a[.dln].zero()
            Matmul.backward(dinp: a[.dln], dweight: g(.qkvw, l), dbias: g(.qkvb, l), dout: a[.dqkv].ro,
                            inp: a[.ln1, layer: l].ro, weight: p(.qkvw, l), N: N, C: C, OC: 3 * C, threads: th)
            LayerNorm.backward(dinp: a[.dresidual], dweight: g(.ln1w, l), dbias: g(.ln1b, l), dout: a[.dln].ro,
                               inp: residual.ro, weight: p(.ln1w, l), mean: a[.ln1Mean, layer: l].ro,
                               rstd: a[.ln1Rstd, layer: l].ro, N: N, C: C, threads: th)
            for t in ParameterTensor.allCases where t.isPerLayer {
                let o = table.offset(t, layer: l)
                gradientsReady(o ..< o + table.layerCount(t))
            }
        }
        positions.withUnsafeBufferPointer { pos in
            batch.inputs.withUnsafeBufferPointer { tok in
                Encoder.backward(dwte: g(.wte), dwpe: g(.wpe), dout: a[.dresidual].ro, tokens: tok, positions: pos,
                                 N: N, C: C, threads: th)
            }
        }
        for t in ParameterTensor.allCases where !t.isPerLayer { gradientsReady(table.range(t)) }
    }
}

/// Calls `body` with a buffer view of `array`, or with nil when there is none.
@inline(__always)
func withOptional<T, R>(_ array: [T]?, _ body: (UnsafeBufferPointer<T>?) throws -> R) rethrows -> R {
    guard let array else { return try body(nil) }
    return try array.withUnsafeBufferPointer { try body($0) }
}
