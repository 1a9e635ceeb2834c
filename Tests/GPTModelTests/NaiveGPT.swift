// The whole model composed from the kernels' naive Double references: the oracle that the
// finite-difference checks differentiate.

import GPTModel
import Kernels

enum NaiveGPT {
    /// Per-token losses (0 where the weight is 0) and logits (B, T, Vp), in Double.
    static func forward(_ params: [Double], _ config: GPTConfig, _ batch: TokenBatch) -> (losses: [Double], logits: [Double]) {
        let table = ParameterTable(config)
        func t(_ p: ParameterTensor) -> [Double] { Array(params[table.range(p)]) }
        func t(_ p: ParameterTensor, _ l: Int) -> [Double] {
            let o = table.offset(p, layer: l)
            return Array(params[o ..< o + table.layerCount(p)])
        }
        let B = batch.B, T = batch.T, N = B * T
        let C = config.channels, NH = config.numHeads, V = config.vocabSize, Vp = config.paddedVocabSize
        var x = Encoder.naiveForward(tokens: batch.inputs, positions: batch.positions, wte: t(.wte), wpe: t(.wpe), C: C)
        for l in 0..<config.numLayers {
            let ln1 = LayerNorm.naiveForward(inp: x, weight: t(.ln1w, l), bias: t(.ln1b, l), N: N, C: C)
            let qkv = Matmul.naiveForward(inp: ln1, weight: t(.qkvw, l), bias: t(.qkvb, l), N: N, C: C, OC: 3 * C)
            let atty = Attention.naiveForward(qkv: qkv, documentIDs: batch.documentIDs, B: B, T: T, C: C, NH: NH)
            let attproj = Matmul.naiveForward(inp: atty, weight: t(.attprojw, l), bias: t(.attprojb, l), N: N, C: C, OC: C)
            x = Residual.naiveForward(x, attproj)
            let ln2 = LayerNorm.naiveForward(inp: x, weight: t(.ln2w, l), bias: t(.ln2b, l), N: N, C: C)
            let fch = Matmul.naiveForward(inp: ln2, weight: t(.fcw, l), bias: t(.fcb, l), N: N, C: C, OC: 4 * C)
            let fcproj = Matmul.naiveForward(inp: GELU.naiveForward(fch), weight: t(.fcprojw, l), bias: t(.fcprojb, l),
                                             N: N, C: 4 * C, OC: C)
            x = Residual.naiveForward(x, fcproj)
        }
        let lnf = LayerNorm.naiveForward(inp: x, weight: t(.lnfw), bias: t(.lnfb), N: N, C: C)
        let logits = Matmul.naiveForward(inp: lnf, weight: t(.wte), bias: nil, N: N, C: C, OC: Vp)
        let losses = SoftmaxCrossEntropy.naiveForward(logits: logits, targets: batch.targets,
                                                      weights: batch.weights?.map(Double.init), N: N, V: V, Vp: Vp)
        return (losses, logits)
    }

    /// Σ weight · loss / Σ weight.
    static func meanLoss(_ params: [Double], _ config: GPTConfig, _ batch: TokenBatch) -> Double {
        let losses = forward(params, config, batch).losses
        let w = batch.weights?.map(Double.init) ?? [Double](repeating: 1, count: losses.count)
        return zip(losses, w).map { $0 * $1 }.reduce(0, +) / w.reduce(0, +)
    }
}
