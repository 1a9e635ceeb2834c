import Foundation
import GPTModel
import Kernels

// LoRA (Hu et al. 2021): each targeted weight matrix W (out × in) is trained as
//
//     W' = W₀ + s · B · A        A: (r × in), B: (out × r), s = alpha / r
//
// with W₀ frozen, A drawn small and B zero (so training starts from the base model). Only A and
// B are parameters, so AdamW keeps two moments of r·(in + out) values per matrix instead of
// in·out.
//
// The adapter wraps the full model rather than changing its kernels: before each forward the
// targets are merged (W' = W₀ + s·B·A, one sgemm each), the model runs its ordinary forward and
// backward, and the gradients of the adapters follow from the merged weight's gradient G:
//
//     dB += s · G · Aᵀ          dA += s · Bᵀ · G
//
// which is exact. The price is computing G for the targets as full fine-tuning does; the
// saving that matters on a CPU with little memory is the optimizer state.

/// The matrices LoRA can adapt, by the names users know from PEFT and torchtune.
public enum LoRATarget: String, Codable, Sendable, CaseIterable {
    case qkv
    case attnProj = "attn-proj"
    case fc
    case fcProj = "fc-proj"

    public var tensor: ParameterTensor {
        switch self {
        case .qkv: return .qkvw
        case .attnProj: return .attprojw
        case .fc: return .fcw
        case .fcProj: return .fcprojw
        }
    }
    /// The module's name in HF GPT-2 (PEFT's `target_modules`).
    public var hfModule: String {
        switch self {
        case .qkv: return "attn.c_attn"
        case .attnProj: return "attn.c_proj"
        case .fc: return "mlp.c_fc"
        case .fcProj: return "mlp.c_proj"
        }
    }
}

public struct LoRAOptions: Codable, Equatable, Sendable {
    /// 0: no LoRA, every parameter is trained.
    public var rank = 0
    public var alpha = 16.0
    public var targets: [LoRATarget] = [.qkv, .attnProj]
    public init() {}
    public var scale: Float { rank > 0 ? Float(alpha / Double(rank)) : 0 }
}

public final class LoRAModel: TrainableModel {
    public let model: GPT
    public let options: LoRAOptions

    struct Slice {
        var target: LoRATarget
        var layer: Int
        var rows: Int, cols: Int       // out, in
        var weight: Int                // offset of W in the model's parameters
        var base: Int                  // offset of W₀ in `frozen`
        var a: Int, b: Int             // offsets of A (r × in) and B (out × r) in the adapters
    }
    let slices: [Slice]
    private var frozen: [Float]
    private let adapters: UnsafeMutableBufferPointer<Float>
    private let grads: UnsafeMutableBufferPointer<Float>

    /// Adapters for `model`, A drawn uniformly in ±1/sqrt(in) (PEFT's default, Kaiming-uniform
    /// with a = sqrt(5)) from `seed`, B zero.
    public init(model: GPT, options: LoRAOptions, seed: UInt64) {
        precondition(options.rank > 0)
        self.model = model
        self.options = options
        let table = model.table, c = model.config, r = options.rank
        var slices: [Slice] = []
        var frozen: [Float] = []
        var at = 0
        for t in options.targets {
            let shape = t.tensor.layerShape(c)
            for l in 0..<c.numLayers {
                let w = table.offset(t.tensor, layer: l)
                slices.append(Slice(target: t, layer: l, rows: shape[0], cols: shape[1], weight: w, base: frozen.count,
                                    a: at, b: at + r * shape[1]))
                frozen += model.parameters[w ..< w + shape[0] * shape[1]]
                at += r * (shape[0] + shape[1])
            }
        }
        self.slices = slices
        self.frozen = frozen
        adapters = .allocate(capacity: at)
        adapters.initialize(repeating: 0)
        grads = .allocate(capacity: at)
        grads.initialize(repeating: 0)
        var rng = Xoshiro256StarStar(seed: seed)
        for s in slices {
            let bound = 1 / Double(s.cols).squareRoot()
            for i in 0..<(r * s.cols) { adapters[s.a + i] = Float((rng.nextUniform() * 2 - 1) * bound) }
        }
    }

    deinit {
        adapters.deallocate()
        grads.deallocate()
    }

    public var parameters: UnsafeMutableBufferPointer<Float> { adapters }
    public var gradients: UnsafeMutableBufferPointer<Float> { grads }
    public var flopsPerToken: Double { model.flopsPerToken }
    public var decayRanges: [(range: Range<Int>, decay: Bool)] { [(0..<adapters.count, true)] }

    /// Writes W₀ + s·B·A into the model's targeted matrices.
    public func merge() {
        let r = options.rank, scale = options.scale
        let p = model.parameters
        frozen.withUnsafeBufferPointer { w0 in
            for s in slices {
                let n = s.rows * s.cols
                _ = UnsafeMutableBufferPointer(rebasing: p[s.weight ..< s.weight + n])
                    .update(fromContentsOf: w0[s.base ..< s.base + n])
                BLAS.sgemm(transA: false, transB: false, m: s.rows, n: s.cols, k: r, alpha: scale,
                           a: UnsafePointer(adapters.baseAddress! + s.b), lda: r,
                           b: UnsafePointer(adapters.baseAddress! + s.a), ldb: s.cols,
                           beta: 1, c: p.baseAddress! + s.weight, ldc: s.cols)
            }
        }
    }

    public func forward(_ batch: TokenBatch) -> (lossSum: Double, weightSum: Double) {
        merge()
        return model.forward(batch)
    }

    public func zeroGradients() { grads.update(repeating: 0) }

    /// The model's backward, then the adapters' share of each targeted matrix's gradient G:
    /// dB += s·G·Aᵀ, dA += s·Bᵀ·G.
    public func backward(lossScale: Float) {
        model.zeroGradients()
        model.backward(lossScale: lossScale)
        let g = model.gradients, r = options.rank, scale = options.scale
        for s in slices {
            let G = UnsafePointer(g.baseAddress! + s.weight)
            BLAS.sgemm(transA: false, transB: true, m: s.rows, n: r, k: s.cols, alpha: scale,
                       a: G, lda: s.cols, b: UnsafePointer(adapters.baseAddress! + s.a), ldb: s.cols,
                       beta: 1, c: grads.baseAddress! + s.b, ldc: r)
            BLAS.sgemm(transA: true, transB: false, m: r, n: s.cols, k: s.rows, alpha: scale,
                       a: UnsafePointer(adapters.baseAddress! + s.b), lda: r, b: G, ldb: s.cols,
                       beta: 1, c: grads.baseAddress! + s.a, ldc: s.cols)
        }
    }

    /// The merged model as a full checkpoint (`tune export --merge-lora`).
    public func mergedCheckpoint() -> Checkpoint {
        merge()
        return Checkpoint(config: model.config, parameters: Array(model.parameters))
    }

    /// PEFT's tensor names for GPT-2.
    func names(_ s: Slice) -> (a: String, b: String) {
        let p = "base_model.model.transformer.h.\(s.layer).\(s.target.hfModule)"
        return (p + ".lora_A.weight", p + ".lora_B.weight")
    }

    /// Writes the adapters as PEFT does: `adapter_model.safetensors`-style tensors (lora_A
    /// (r × in), lora_B (out × r)) at `path`, and `adapter_config.json` beside it.
    public func saveAdapters(to path: String, baseModel: String) throws {
        let r = options.rank
        var tensors: [Safetensors.Tensor] = []
        for s in slices {
            let n = names(s)
            let a = Array(adapters[s.a ..< s.a + r * s.cols]), b = Array(adapters[s.b ..< s.b + s.rows * r])
            tensors.append(.init(name: n.a, shape: [r, s.cols], values: { a }))
            tensors.append(.init(name: n.b, shape: [s.rows, r], values: { b }))
        }
        try Safetensors.write(tensors, metadata: ["format": "pt"], to: path)
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": options.alpha, "lora_dropout": 0.0,
            "target_modules": options.targets.map { String($0.hfModule.split(separator: ".").last!) },
            "fan_in_fan_out": true, "bias": "none", "base_model_name_or_path": baseModel,
            "kiln_targets": options.targets.map(\.rawValue),
        ]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try writeAtomically(data, to: URL(fileURLWithPath: path).deletingLastPathComponent().path + "/adapter_config.json")
    }

    /// Reads adapters written by `saveAdapters` (or PEFT, for these targets) into this model.
    public func loadAdapters(from path: String) throws {
        let reader = try SafetensorsReader(path: path)
        let r = options.rank
        for s in slices {
            let n = names(s)
            let a = try reader.floats(n.a), b = try reader.floats(n.b)
            guard a.count == r * s.cols, b.count == s.rows * r else {
                throw DataError(message: "\(path): \(n.a) or \(n.b) has the wrong size for rank \(r)")
            }
            _ = UnsafeMutableBufferPointer(rebasing: adapters[s.a ..< s.a + a.count]).update(fromContentsOf: a)
            _ = UnsafeMutableBufferPointer(rebasing: adapters[s.b ..< s.b + b.count]).update(fromContentsOf: b)
        }
    }

    /// The options an `adapter_config.json` describes, and its base model.
    public static func config(at dir: String) throws -> (options: LoRAOptions, base: String) {
        guard let data = FileManager.default.contents(atPath: dir + "/adapter_config.json"),
              let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let r = obj["r"] as? Int, let alpha = obj["lora_alpha"] as? Double else {
            throw DataError(message: "\(dir)/adapter_config.json: missing or not a LoRA configuration")
        }
        var o = LoRAOptions()
        o.rank = r
        o.alpha = alpha
        if let t = obj["kiln_targets"] as? [String] { o.targets = t.compactMap(LoRATarget.init(rawValue:)) }
        return (o, obj["base_model_name_or_path"] as? String ?? "")
    }
}
