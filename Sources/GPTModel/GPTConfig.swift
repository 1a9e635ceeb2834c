// The shape of a GPT-2-style model and the table of its parameter tensors.
//
// The table is the one place that knows the 16 tensors, their shapes and their order. The order
// is llm.c's checkpoint order (../shared/docs/FORMATS.md §1.2): all L layers of one tensor, then
// the next tensor. Parameters, gradients and optimizer moments are each one allocation laid out
// by this table, so a checkpoint is that allocation written after the header.

/// The hyperparameters that fix a model's shape. They come from a checkpoint's header (or from
/// `tune init`), never from run options.
public struct GPTConfig: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    /// Maximum sequence length: rows of the position embedding (llm.c `maxT`).
    public var maxSeqLen: Int
    /// The real vocabulary size: tokens are `0..<vocabSize`.
    public var vocabSize: Int
    /// Rows of the token embedding, the vocabulary rounded up (llm.c pads to a multiple of 128).
    public var paddedVocabSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var channels: Int

    /// llm.c's padding rule: the vocabulary rounded up to a multiple of 128.
    public static func paddedVocabulary(_ vocabSize: Int, multiple: Int = 128) -> Int {
        (vocabSize + multiple - 1) / multiple * multiple
    }

    public init(maxSeqLen: Int, vocabSize: Int, paddedVocabSize: Int? = nil,
                numLayers: Int, numHeads: Int, channels: Int) {
        self.maxSeqLen = maxSeqLen
        self.vocabSize = vocabSize
        self.paddedVocabSize = paddedVocabSize ?? GPTConfig.paddedVocabulary(vocabSize)
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.channels = channels
    }

    public var headSize: Int { channels / numHeads }

    /// Why this shape cannot be a model, or nil when it can.
    public var problem: String? {
        if maxSeqLen < 1 { return "max sequence length \(maxSeqLen) is not positive" }
        if vocabSize < 1 { return "vocabulary size \(vocabSize) is not positive" }
        if paddedVocabSize < vocabSize {
            return "padded vocabulary \(paddedVocabSize) is smaller than the vocabulary \(vocabSize)"
        }
        if numLayers < 1 { return "layer count \(numLayers) is not positive" }
        if numHeads < 1 { return "head count \(numHeads) is not positive" }
        if channels < 1 { return "channel count \(channels) is not positive" }
        if channels % numHeads != 0 {
            return "channels \(channels) are not a multiple of the head count \(numHeads)"
        }
        return nil
    }

    public var description: String {
        "L=\(numLayers) C=\(channels) NH=\(numHeads) T=\(maxSeqLen) V=\(vocabSize) Vp=\(paddedVocabSize)"
    }

    /// Named presets, as llm.c's `d12` etc.: GPT-2 small is d12. Vocabulary and sequence length
    /// are GPT-2's unless given.
    public static func preset(_ name: String, vocabSize: Int = 50257, maxSeqLen: Int = 1024) -> GPTConfig? {
        let shapes: [String: (layers: Int, channels: Int, heads: Int)] = [
            "d6": (6, 384, 6), "d12": (12, 768, 12), "d24": (24, 1024, 16),
            "d36": (36, 1280, 20), "d48": (48, 1600, 25),
        ]
        guard let s = shapes[name] else { return nil }
        return GPTConfig(maxSeqLen: maxSeqLen, vocabSize: vocabSize,
                         numLayers: s.layers, numHeads: s.heads, channels: s.channels)
    }
    public static let presetNames = ["d6", "d12", "d24", "d36", "d48"]
}

/// The 16 parameter tensors in llm.c's checkpoint order.
public enum ParameterTensor: Int, CaseIterable, Sendable {
    case wte, wpe, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb,
         ln2w, ln2b, fcw, fcb, fcprojw, fcprojb, lnfw, lnfb

    /// llm.c's name for the tensor.
    public var name: String { String(describing: self) }

    /// True for the per-layer tensors (leading dimension L).
    public var isPerLayer: Bool { self != .wte && self != .wpe && self != .lnfw && self != .lnfb }

    /// Matrices that take part in matrix products (weight decay applies to these by default).
    public var isMatrix: Bool {
        switch self {
        case .wte, .wpe, .qkvw, .attprojw, .fcw, .fcprojw: return true
        default: return false
        }
    }

    /// The shape of one layer's slice (or of the whole tensor when it is not per layer),
    /// row-major, (out, in) for matrices as in PyTorch's nn.Linear.
    public func layerShape(_ c: GPTConfig) -> [Int] {
        let C = c.channels
        switch self {
        case .wte: return [c.paddedVocabSize, C]
        case .wpe: return [c.maxSeqLen, C]
        case .ln1w, .ln1b, .ln2w, .ln2b, .attprojb, .fcprojb, .lnfw, .lnfb: return [C]
        case .qkvw: return [3 * C, C]
        case .qkvb: return [3 * C]
        case .attprojw: return [C, C]
        case .fcw: return [4 * C, C]
        case .fcb: return [4 * C]
        case .fcprojw: return [C, 4 * C]
        }
    }

    /// The full shape, with the leading L for per-layer tensors.
    public func shape(_ c: GPTConfig) -> [Int] {
        isPerLayer ? [c.numLayers] + layerShape(c) : layerShape(c)
    }
}

/// Where each tensor lies in the one flat parameter buffer.
public struct ParameterTable: Sendable, Equatable {
    public let config: GPTConfig
    /// Element offset of each tensor, indexed by `ParameterTensor.rawValue`.
    public let offsets: [Int]
    /// Element count of each tensor.
    public let counts: [Int]
    /// Total elements.
    public let total: Int

    public init(_ config: GPTConfig) {
        self.config = config
        var offsets: [Int] = [], counts: [Int] = []
        var at = 0
        for t in ParameterTensor.allCases {
            let n = t.shape(config).reduce(1, *)
            offsets.append(at)
            counts.append(n)
            at += n
        }
        self.offsets = offsets
        self.counts = counts
        self.total = at
    }

    public func offset(_ t: ParameterTensor) -> Int { offsets[t.rawValue] }
    public func count(_ t: ParameterTensor) -> Int { counts[t.rawValue] }
    /// Elements of one layer's slice of a per-layer tensor.
    public func layerCount(_ t: ParameterTensor) -> Int { t.layerShape(config).reduce(1, *) }
    /// Element offset of layer `l`'s slice of a per-layer tensor.
    public func offset(_ t: ParameterTensor, layer l: Int) -> Int {
        precondition(t.isPerLayer && l >= 0 && l < config.numLayers)
        return offset(t) + l * layerCount(t)
    }
    public func range(_ t: ParameterTensor) -> Range<Int> { offset(t) ..< offset(t) + count(t) }
}
