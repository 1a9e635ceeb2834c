// The activations of one forward pass for a (B, T) batch, in one allocation laid out by one
// table (llm.c's ActivationTensors), plus the scratch the backward pass needs for one layer.
//
// Differences from llm.c, each to save memory at no cost in speed:
// - no preatt: the attention softmax is done in place, and its backward needs only att;
// - no probs: the cross-entropy keeps one log-sum-exp per row, and the backward pass turns the
//   logits into their gradients in place;
// - attproj and fcproj share one scratch tensor (`proj`): the backward pass never reads them;
// - gradients of activations are one layer's worth of scratch, reused from layer L-1 down to 0,
//   instead of a second full set.
// At d12 this is 0.23 GB for B=4, T=64 and 2.05 GB for B=8, T=256. The attention weights grow as
// L·B·NH·T² (4.8 GB of them alone at B=8, T=1024): long sequences would want them recomputed.

import Kernels

enum ActivationTensor: Int, CaseIterable {
    case encoded                  // (B, T, C)
    case ln1, ln1Mean, ln1Rstd    // (L, B, T, C), (L, B, T), (L, B, T)
    case qkv                      // (L, B, T, 3C)
    case atty                     // (L, B, T, C)
    case att                      // (L, B, NH, T, T)
    case residual2                // (L, B, T, C)
    case ln2, ln2Mean, ln2Rstd    // (L, B, T, C), (L, B, T), (L, B, T)
    case fch, fchGelu             // (L, B, T, 4C)
    case residual3                // (L, B, T, C)
    case lnf, lnfMean, lnfRstd    // (B, T, C), (B, T), (B, T)
    case logits                   // (B, T, Vp); dlogits after backward
    case lse, losses              // (B, T)
    case proj                     // (B, T, C) output of attproj / fcproj before the residual
    // Backward scratch, one layer at a time:
    case dresidual, dln, datty    // (B, T, C)
    case dqkv                     // (B, T, 3C)
    case dfchGelu, dfch           // (B, T, 4C)
    case datt                     // (B, NH, T, T)

    var isPerLayer: Bool {
        switch self {
        case .ln1, .ln1Mean, .ln1Rstd, .qkv, .atty, .att, .residual2, .ln2, .ln2Mean, .ln2Rstd,
             .fch, .fchGelu, .residual3: return true
        default: return false
        }
    }

    /// Elements of one layer's slice (or of the whole tensor when it is not per layer).
    func layerCount(_ c: GPTConfig, B: Int, T: Int) -> Int {
        let BT = B * T, C = c.channels
        switch self {
        case .encoded, .ln1, .atty, .residual2, .ln2, .residual3, .lnf, .proj, .dresidual, .dln, .datty:
            return BT * C
        case .ln1Mean, .ln1Rstd, .ln2Mean, .ln2Rstd, .lnfMean, .lnfRstd, .lse, .losses: return BT
        case .qkv, .dqkv: return BT * 3 * C
        case .fch, .fchGelu, .dfchGelu, .dfch: return BT * 4 * C
        case .att, .datt: return B * c.numHeads * T * T
        case .logits: return BT * c.paddedVocabSize
        }
    }
}

/// One allocation holding every activation tensor for a (B, T) batch.
final class GPTActivations {
    let B: Int, T: Int
    let config: GPTConfig
    private let offsets: [Int]
    private let layerCounts: [Int]
    let memory: UnsafeMutableBufferPointer<Float>

    init(config: GPTConfig, B: Int, T: Int) {
        self.config = config
        self.B = B
        self.T = T
        var offsets: [Int] = [], layerCounts: [Int] = []
        var at = 0
        for t in ActivationTensor.allCases {
            let n = t.layerCount(config, B: B, T: T)
            offsets.append(at)
            layerCounts.append(n)
            at += t.isPerLayer ? config.numLayers * n : n
        }
        self.offsets = offsets
        self.layerCounts = layerCounts
        memory = .allocate(capacity: at)
        memory.initialize(repeating: 0)
    }

    deinit { memory.deallocate() }

    var bytes: Int { memory.count * MemoryLayout<Float>.stride }

    subscript(_ t: ActivationTensor) -> UnsafeMutableBufferPointer<Float> {
        precondition(!t.isPerLayer, "\(t) is per layer")
        let o = offsets[t.rawValue]
        return UnsafeMutableBufferPointer(rebasing: memory[o ..< o + layerCounts[t.rawValue]])
    }

    subscript(_ t: ActivationTensor, layer l: Int) -> UnsafeMutableBufferPointer<Float> {
        precondition(t.isPerLayer && l >= 0 && l < config.numLayers)
        let n = layerCounts[t.rawValue], o = offsets[t.rawValue] + l * n
        return UnsafeMutableBufferPointer(rebasing: memory[o ..< o + n])
    }

    /// Bytes that an activation allocation for this shape takes.
    static func bytes(config: GPTConfig, B: Int, T: Int) -> Int {
        ActivationTensor.allCases.reduce(0) {
            $0 + ($1.isPerLayer ? config.numLayers : 1) * $1.layerCount(config, B: B, T: T)
        } * MemoryLayout<Float>.stride
    }
}

extension UnsafeMutableBufferPointer where Element == Float {
    /// Read-only view, as the kernels take their inputs.
    var ro: UnsafeBufferPointer<Float> { UnsafeBufferPointer(self) }
    func zero() { update(repeating: 0) }
}
