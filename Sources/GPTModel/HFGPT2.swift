// Hugging Face GPT-2 checkpoints (../shared/docs/FORMATS.md §4.6, §4.7): a folder with
// `model.safetensors` and `config.json`, as `GPT2LMHeadModel.save_pretrained` writes it.
//
// HF GPT-2 uses Conv1D, whose weight is (in, out) and computes x @ W + b, where llm.c stores
// (out, in) like nn.Linear. So exactly the four Conv1D matrices (attn.c_attn, attn.c_proj,
// mlp.c_fc, mlp.c_proj) are transposed both ways: llm[o][i] = hf[i][o]. attn.c_proj is square and
// must be transposed all the same. wte has V rows in HF and Vp (zero-padded) rows in llm.c.
// There is no lm_head: the output layer is tied to wte.

import Foundation

enum HFGPT2 {
    /// The prefix `save_pretrained` writes; the hub's own gpt2 files have none.
    static let prefix = "transformer."

    /// The HF name (without prefix) of layer `l` of tensor `t`.
    static func name(_ t: ParameterTensor, layer l: Int) -> String {
        switch t {
        case .wte: return "wte.weight"
        case .wpe: return "wpe.weight"
        case .ln1w: return "h.\(l).ln_1.weight"
        case .ln1b: return "h.\(l).ln_1.bias"
        case .qkvw: return "h.\(l).attn.c_attn.weight"
        case .qkvb: return "h.\(l).attn.c_attn.bias"
        case .attprojw: return "h.\(l).attn.c_proj.weight"
        case .attprojb: return "h.\(l).attn.c_proj.bias"
        case .ln2w: return "h.\(l).ln_2.weight"
        case .ln2b: return "h.\(l).ln_2.bias"
        case .fcw: return "h.\(l).mlp.c_fc.weight"
        case .fcb: return "h.\(l).mlp.c_fc.bias"
        case .fcprojw: return "h.\(l).mlp.c_proj.weight"
        case .fcprojb: return "h.\(l).mlp.c_proj.bias"
        case .lnfw: return "ln_f.weight"
        case .lnfb: return "ln_f.bias"
        }
    }

    static func isConv1D(_ t: ParameterTensor) -> Bool { t == .qkvw || t == .attprojw || t == .fcw || t == .fcprojw }

    /// The shape HF stores: Conv1D matrices (in, out), wte without the pad rows.
    static func shape(_ t: ParameterTensor, _ c: GPTConfig) -> [Int] {
        if t == .wte { return [c.vocabSize, c.channels] }
        let s = t.layerShape(c)
        return isConv1D(t) ? s.reversed() : s
    }

    /// Every tensor HF stores, in llm.c order: (name without prefix, tensor, layer).
    static func layout(_ c: GPTConfig) -> [(name: String, tensor: ParameterTensor, layer: Int)] {
        ParameterTensor.allCases.flatMap { t in
            (0..<(t.isPerLayer ? c.numLayers : 1)).map { l in (name(t, layer: l), t, l) }
        }
    }

    /// Non-parameter buffers some files carry (the causal mask and its fill value).
    static func isBuffer(_ name: String) -> Bool { name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") }

    /// dst (R × K) = transpose of src (K × R). In 32 × 32 tiles, so that both sides stay in
    /// cache: a plain loop strides through one of them 9 KB at a time for GPT-2's matrices.
    static func transpose(_ src: UnsafeBufferPointer<Float>, rows R: Int, cols K: Int,
                          into dst: UnsafeMutableBufferPointer<Float>) {
        precondition(src.count == R * K && dst.count == R * K)
        let tile = 32
        for o0 in stride(from: 0, to: R, by: tile) {
            for i0 in stride(from: 0, to: K, by: tile) {
                for o in o0 ..< min(o0 + tile, R) {
                    for i in i0 ..< min(i0 + tile, K) { dst[o * K + i] = src[i * R + o] }
                }
            }
        }
    }

    // MARK: Reading

    /// The safetensors file and config.json for a folder or a `.safetensors` path.
    static func locate(_ path: String) throws -> (weights: String, config: String) {
        let fm = FileManager.default
        if ReadableFile.isDirectory(path) {
            let weights = path + "/model.safetensors"
            if !fm.fileExists(atPath: weights) {
                let sharded = fm.fileExists(atPath: path + "/model.safetensors.index.json")
                throw CheckpointError(path: path, reason: .io, message: sharded
                    ? "sharded safetensors checkpoints (model.safetensors.index.json) are not supported"
                    : "no model.safetensors in this folder")
            }
            return (weights, path + "/config.json")
        }
        let dir = (path as NSString).deletingLastPathComponent
        return (path, (dir.isEmpty ? "." : dir) + "/config.json")
    }

    static func read(path: String, validateValues: Bool) throws -> LoadedCheckpoint {
        let (weightsPath, configPath) = try locate(path)
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw CheckpointError(path: weightsPath, reason: .badHFConfig,
                                  message: "no config.json beside it: the model's shape (n_head, n_positions) comes from there")
        }
        let configFile = try ReadableFile(path: configPath)
        let config = try self.config(json: try configFile.bytes(configFile.size, at: 0), path: configPath)
        let reader = try SafetensorsReader(path: weightsPath)
        func fail(_ reason: CheckpointError.Reason, _ message: String) -> CheckpointError {
            CheckpointError(path: weightsPath, reason: reason, message: message)
        }
        // config.json alone sets how much is allocated below (the parameters, the layout of L
        // layers): check its claim against the weights first, at 16 bits a parameter at least.
        // GPT-3's shape beside a 1 KB file would otherwise allocate 700 GB before finding a
        // tensor missing. (The count is below 2^40: config(json:) refuses larger models.)
        let needed = Int(parameterCount(config))
        guard 2 * needed <= reader.fileBytes else {
            throw CheckpointError(path: configPath, reason: .badHFConfig,
                                  message: "describes a model of \(needed) parameters (\(config)), at least \(2 * needed) bytes "
                                      + "of weights in 16 bits; \(weightsPath) has \(reader.fileBytes)")
        }

        let present = Set(reader.header.entries.map(\.name))
        let prefixed = present.contains(prefix + "wte.weight"), bare = present.contains("wte.weight")
        guard prefixed != bare else {
            throw fail(.badTensors, prefixed ? "both wte.weight and transformer.wte.weight: mixed naming"
                                             : "no wte.weight or transformer.wte.weight: not a GPT-2 checkpoint")
        }
        let p = prefixed ? prefix : ""
        let layout = layout(config)
        let expected = Set(layout.map { p + $0.name })
        for name in present.sorted() where !expected.contains(name) && name != "lm_head.weight" && !isBuffer(name) {
            throw fail(.badTensors, "unexpected tensor \(name) for a GPT-2 with \(config.numLayers) layers")
        }

        let table = ParameterTable(config)
        var parameters = [Float](repeating: 0, count: table.total)   // wte's pad rows stay zero
        var dtypes = Set<String>()
        for (name, t, l) in layout {
            let full = p + name
            guard let entry = reader.header[full] else { throw fail(.badTensors, "missing tensor \(full)") }
            let want = shape(t, config)
            guard entry.shape == want else {
                throw fail(.badTensors, "tensor \(full) has shape \(entry.shape), config.json implies \(want)")
            }
            dtypes.insert(entry.dtype)
            let values = try reader.floats(full)
            let at = t.isPerLayer ? table.offset(t, layer: l) : table.offset(t)
            parameters.withUnsafeMutableBufferPointer { dst in
                let slice = UnsafeMutableBufferPointer(rebasing: dst[at ..< at + values.count])
                if isConv1D(t) {
                    let s = t.layerShape(config)
                    values.withUnsafeBufferPointer { transpose($0, rows: s[0], cols: s[1], into: slice) }
                } else {
                    _ = slice.update(fromContentsOf: values)
                }
            }
        }
        var checks = [("config", "config.json: \(config)"),
                      ("tensors", "\(layout.count) GPT-2 tensors named \(p.isEmpty ? "without" : "with the transformer.") prefix")]
        // Some exports keep a copy of wte as lm_head: fine when it is the same matrix (tied), but
        // an untied output layer has no place in llm.c's model.
        if let head = reader.header["lm_head.weight"] {
            guard head.shape == [config.vocabSize, config.channels] else {
                throw fail(.untiedOutputLayer, "lm_head.weight has shape \(head.shape), expected [\(config.vocabSize), \(config.channels)]")
            }
            let headValues = try reader.floats("lm_head.weight")
            guard headValues.elementsEqual(parameters[0 ..< config.vocabSize * config.channels]) else {
                throw fail(.untiedOutputLayer, "lm_head.weight differs from wte.weight: an untied output layer, which "
                           + "llm.c's GPT-2 (output layer = wte) cannot hold")
            }
            checks.append(("lm_head", "lm_head.weight equals wte.weight (tied)"))
        }
        let checkpoint = Checkpoint(config: config, parameters: parameters,
                                    sourceType: dtypes == ["BF16"] ? .bfloat16 : .float32)
        if validateValues, let bad = checkpoint.firstNonFinite() { throw fail(.nonFinite, bad) }
        return LoadedCheckpoint(checkpoint: checkpoint,
                                format: "safetensors (Hugging Face GPT-2, \(dtypes.sorted().joined(separator: "+")))",
                                files: [weightsPath, configPath], fileBytes: reader.fileBytes + configFile.size,
                                checks: checks)
    }

    /// The parameters of a GPT-2 with this shape as HF stores it (wte has V rows, not Vp), in
    /// Double so that no claimed size overflows.
    static func parameterCount(_ c: GPTConfig) -> Double {
        let C = Double(c.channels), L = Double(c.numLayers)
        return Double(c.vocabSize) * C + Double(c.maxSeqLen) * C + L * (12 * C * C + 13 * C) + 2 * C
    }

    // MARK: config.json

    /// The model's shape from a GPT2LMHeadModel config.json, refusing settings that change the
    /// computation away from what llm.c's GPT-2 does.
    static func config(json: [UInt8], path: String) throws -> GPTConfig {
        func fail(_ message: String) -> CheckpointError {
            CheckpointError(path: path, reason: .badHFConfig, message: message)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)), let o = object as? [String: Any] else {
            throw fail("not a JSON object")
        }
        /// An integer under `key` or one of its aliases (GPT2Config's attribute_map).
        func integer(_ keys: String...) throws -> Int {
            for key in keys {
                guard let v = o[key], !(v is NSNull) else { continue }
                guard let n = v as? Int else { throw fail("\(key) is \(v), not an integer") }
                // Sizes near Int.max would overflow the arithmetic on them (the padded
                // vocabulary) before any check; llm.c's headers hold int32 anyway.
                guard n <= Int(Int32.max) else {
                    throw fail("\(key) is \(n): an implausibly large model (llm.c's headers hold int32)")
                }
                return n
            }
            throw fail("missing \(keys[0])")
        }
        if let type = o["model_type"] as? String, type != "gpt2" {
            throw fail("model_type is \(type), not gpt2")
        }
        let channels = try integer("n_embd", "hidden_size")
        let config = GPTConfig(maxSeqLen: try integer("n_positions", "max_position_embeddings", "n_ctx"),
                               vocabSize: try integer("vocab_size"),
                               numLayers: try integer("n_layer", "num_hidden_layers"),
                               numHeads: try integer("n_head", "num_attention_heads"),
                               channels: channels)
        if let problem = config.problem { throw fail(problem) }
        guard LlmcCheckpoint.estimatedParameters(config) < Double(LlmcCheckpoint.maxParameters) else {
            throw fail("describes an implausibly large model (\(config))")
        }
        // Absent keys take GPT2Config's defaults, which are llm.c's choices.
        if let eps = o["layer_norm_epsilon"] {
            guard let e = eps as? Double, abs(e - 1e-5) <= 1e-12 else {
                throw fail("layer_norm_epsilon is \(eps); llm.c's LayerNorm uses 1e-5")
            }
        }
        if let act = o["activation_function"] {
            guard act as? String == "gelu_new" else {
                throw fail("activation_function is \(act); llm.c uses the tanh GELU, \"gelu_new\"")
            }
        }
        if let inner = o["n_inner"], !(inner is NSNull) {
            guard inner as? Int == 4 * channels else { throw fail("n_inner is \(inner); llm.c's MLP is 4 × n_embd = \(4 * channels)") }
        }
        for (key, required) in [("scale_attn_weights", true), ("scale_attn_by_inverse_layer_idx", false),
                                ("tie_word_embeddings", true), ("add_cross_attention", false)] {
            if let v = o[key], !(v is NSNull), v as? Bool != required {
                throw fail("\(key) is \(v); llm.c's GPT-2 needs \(required)")
            }
        }
        return config
    }

    /// A config.json that transformers' GPT2LMHeadModel loads: GPT2Config's keys, sorted as
    /// `save_pretrained` writes them, with this model's sizes. Dropout values are GPT-2's
    /// defaults; they matter only to someone who trains the export further.
    static func configJSON(_ c: GPTConfig, endOfTextToken: Int?) -> String {
        let eot = endOfTextToken.map(String.init) ?? (c.vocabSize > 50256 ? "50256" : "null")
        let fields: [(String, String)] = [
            ("activation_function", "\"gelu_new\""),
            ("architectures", "[\"GPT2LMHeadModel\"]"),
            ("attn_pdrop", "0.1"),
            ("bos_token_id", eot),
            ("embd_pdrop", "0.1"),
            ("eos_token_id", eot),
            ("initializer_range", "0.02"),
            ("layer_norm_epsilon", "1e-05"),
            ("model_type", "\"gpt2\""),
            ("n_ctx", "\(c.maxSeqLen)"),
            ("n_embd", "\(c.channels)"),
            ("n_head", "\(c.numHeads)"),
            ("n_inner", "null"),
            ("n_layer", "\(c.numLayers)"),
            ("n_positions", "\(c.maxSeqLen)"),
            ("reorder_and_upcast_attn", "false"),
            ("resid_pdrop", "0.1"),
            ("scale_attn_by_inverse_layer_idx", "false"),
            ("scale_attn_weights", "true"),
            ("summary_activation", "null"),
            ("summary_first_dropout", "0.1"),
            ("summary_proj_to_labels", "true"),
            ("summary_type", "\"cls_index\""),
            ("summary_use_proj", "true"),
            ("tie_word_embeddings", "true"),
            ("torch_dtype", "\"float32\""),
            ("use_cache", "true"),
            ("vocab_size", "\(c.vocabSize)"),
        ]
        return "{\n" + fields.map { "  \"\($0.0)\": \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    // MARK: Writing

    static func write(_ checkpoint: Checkpoint, directory: String, endOfTextToken: Int?) throws {
        let c = checkpoint.config
        if let problem = c.problem {
            throw CheckpointError(path: directory, reason: .badConfig, message: "refusing to write: \(problem)")
        }
        if let bad = checkpoint.firstNonFinite() {
            throw CheckpointError(path: directory, reason: .nonFinite, message: "refusing to write: \(bad)")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(path: directory, reason: .io, message: "cannot create the folder: \(error.localizedDescription)")
        }
        let table = checkpoint.table
        let tensors = layout(c).map { name, t, l in
            Safetensors.Tensor(name: prefix + name, shape: shape(t, c)) {
                let at = t.isPerLayer ? table.offset(t, layer: l) : table.offset(t)
                // wte loses its pad rows: HF's embedding has exactly V rows.
                let n = t == .wte ? c.vocabSize * c.channels : table.layerCount(t)
                guard isConv1D(t) else { return Array(checkpoint.parameters[at ..< at + n]) }
                let s = t.layerShape(c)
                return [Float](unsafeUninitializedCapacity: n) { out, initialized in
                    checkpoint.parameters.withUnsafeBufferPointer { src in
                        // llm.c (out R × in K) → HF (in K × out R) is the same transpose with the
                        // roles swapped.
                        transpose(UnsafeBufferPointer(rebasing: src[at ..< at + n]), rows: s[1], cols: s[0],
                                  into: UnsafeMutableBufferPointer(rebasing: out[0 ..< n]))
                    }
                    initialized = n
                }
            }
        }
        try Safetensors.write(tensors, metadata: ["format": "pt"], to: directory + "/model.safetensors")
        let out = try AtomicFileWriter(path: directory + "/config.json")
        try out.write(Array(configJSON(c, endOfTextToken: endOfTextToken).utf8))
        try out.commit()
    }
}
