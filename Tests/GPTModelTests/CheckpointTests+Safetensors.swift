// Checkpoints: safetensors files and the Hugging Face GPT-2 import/export, with cross-checks
// against Python's safetensors and numpy (check_hf_export.py). Helpers: CheckpointTests.swift.

import Foundation
import Testing
import TestSupport
@testable import GPTModel

@Suite final class SafetensorsTests: CheckpointTesting {
    /// One folder per test (Swift Testing makes a new instance for each), removed afterwards.
    let dir = Fixtures.tempDir("ckpt-st")
    deinit { try? FileManager.default.removeItem(atPath: dir) }

    /// FORMATS.md §4.5: "a" F32 [1, -2] and "b" BF16 [1, 0.5, -3], header padded to 144 bytes.
    var workedExample: [UInt8] {
        var json = Array(#"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[3],"data_offsets":[8,14]}}"#.utf8)
        json += [UInt8](repeating: 0x20, count: 144 - json.count)
        return littleEndianBytes([UInt64(144)]) + json
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0] + [0x80, 0x3F, 0x00, 0x3F, 0x40, 0xC0]
    }

    @Test func readsTheWorkedExample() throws {
        let path = dir + "/example.safetensors"
        #expect(workedExample.count == 166)
        Fixtures.write(workedExample, to: path)
        let r = try SafetensorsReader(path: path)
        #expect(r.header.metadata == ["format": "pt"])
        #expect(r.header.entries.map(\.name) == ["a", "b"])
        #expect(r.header.dataStart == 152)
        #expect(try r.floats("a") == [1, -2])
        #expect(try r.floats("b") == [1, 0.5, -3])
    }

    @Test func writesTheRustLayout() throws {
        let path = dir + "/a.safetensors"
        try Safetensors.write([.init(name: "a", shape: [2]) { [1, -2] }], to: path)
        let json = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        // 85 bytes of JSON padded with three spaces to 88, a multiple of 8.
        #expect(json.utf8.count == 85)
        let expected = littleEndianBytes([UInt64(88)]) + Array(json.utf8) + [0x20, 0x20, 0x20]
            + [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]
        #expect(Fixtures.read(path) == expected)
    }

    @Test func roundTripsManyTensors() throws {
        let path = dir + "/m.safetensors"
        let x = (0..<60).map { Float($0) * 0.25 - 3 }
        try Safetensors.write([
            .init(name: "z.matrix", shape: [3, 4, 5]) { x },
            .init(name: "scalar", shape: []) { [42] },
            .init(name: "empty", shape: [0, 7]) { [] },
            .init(name: "quote\"d", shape: [2]) { [1, 2] },
        ], to: path)
        let r = try SafetensorsReader(path: path)
        #expect(r.header.dataStart % 8 == 0)
        #expect(r.header["z.matrix"]?.shape == [3, 4, 5])
        #expect(try r.floats("z.matrix") == x)
        #expect(try r.floats("scalar") == [42])
        #expect(try r.floats("empty") == [])
        #expect(try r.floats("quote\"d") == [1, 2])
    }

    @Test func readsFloat16() throws {
        let json = Array(#"{"h":{"dtype":"F16","shape":[6],"data_offsets":[0,12]}}"#.utf8)
        let bytes = littleEndianBytes([UInt64(json.count)]) + json
            + littleEndianBytes([0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000] as [UInt16])
        let path = dir + "/h.safetensors"
        Fixtures.write(bytes, to: path)
        let v = try SafetensorsReader(path: path).floats("h")
        #expect(v == [1, -2, 65504, 0x1p-24, .infinity, 0])
        #expect(v[5].sign == .minus)
    }

    /// A file with the given header JSON and `data` bytes of data.
    func file(_ json: String, data: Int, headerLength: UInt64? = nil) -> String {
        let path = dir + "/bad.safetensors"
        let j = Array(json.utf8)
        Fixtures.write(littleEndianBytes([headerLength ?? UInt64(j.count)]) + j + [UInt8](repeating: 0, count: data), to: path)
        return path
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 9, "1 more bytes"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 7, "truncated"),
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "needs 12 bytes"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 12, "leaving bytes 0..<4 unused"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "overlaps"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, "begin ≤ end"),
        (#"{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, 8, "unknown dtype F31"),
        (#"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, 8, "negative dimension"),
        (#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#, 2, "not whole bytes"),
        (#"{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}"#, 8, "tensor a is not"),
        (#"{"__metadata__":{"format":1}}"#, 0, "__metadata__ is not an object of strings"),
        (#"{"a":{"dtype":"#, 0, "not valid JSON"),
        (#"["a"]"#, 0, "does not start with '{'"),
    ])
    func rejectsBadHeaders(_ json: String, _ data: Int, _ text: String) {
        let path = file(json, data: data)
        let e = checkpointError { _ = try SafetensorsReader(path: path) }
        #expect(e?.reason == .badSafetensors, "\(e?.description ?? "no error")")
        #expect(e?.message.contains(text) == true, "\(e?.message ?? "no error")")
    }

    @Test func rejectsInvalidUTF8() {
        let json: [UInt8] = Array(#"{"a"#.utf8) + [0xFF] + Array(#"":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#.utf8)
        let path = dir + "/utf8.safetensors"
        Fixtures.write(littleEndianBytes([UInt64(json.count)]) + json, to: path)
        let e = checkpointError { _ = try SafetensorsReader(path: path) }
        #expect(e?.reason == .badSafetensors && e?.message.contains("not valid JSON") == true, "\(e?.description ?? "no error")")
    }

    @Test func rejectsBadLengths() {
        let huge = file("{}", data: 0, headerLength: 100_000_001)
        #expect(checkpointError { _ = try SafetensorsReader(path: huge) }?.message.contains("exceeds") == true)
        let past = file("{}", data: 0, headerLength: 1000)
        #expect(checkpointError { _ = try SafetensorsReader(path: past) }?.reason == .truncated)
        let path = dir + "/tiny.safetensors"
        Fixtures.write([1, 2, 3], to: path)
        #expect(checkpointError { _ = try SafetensorsReader(path: path) }?.reason == .truncated)
    }
}

@Suite struct HFGPT2Tests: CheckpointTesting {
    @Test func exportImportRoundTrip() throws {
        let dir = Fixtures.tempDir("ckpt-hf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ck = Checkpoint.random(config: tiny, seed: 11)
        try ck.writeHF(directory: dir + "/export")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir + "/export")) == ["model.safetensors", "config.json"])
        for path in [dir + "/export", dir + "/export/model.safetensors"] {
            let back = try Checkpoint.read(path: path)
            #expect(back.config == tiny)
            #expect(back.sourceType == .float32)
            #expect(bitsEqual(back.parameters, ck.parameters), "\(path)")
        }
    }

    @Test func conv1DMatricesAreTransposedAndWteIsCut() throws {
        let dir = Fixtures.tempDir("ckpt-hf")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ck = Checkpoint.random(config: tiny, seed: 12)
        try ck.writeHF(directory: dir)
        let r = try SafetensorsReader(path: dir + "/model.safetensors")
        let t = ck.table, C = tiny.channels
        #expect(r.header.metadata == ["format": "pt"])
        #expect(r.header.entries.count == 4 + 12 * tiny.numLayers)
        #expect(r.header["lm_head.weight"] == nil)
        #expect(r.header.entries.allSatisfy { $0.name.hasPrefix("transformer.") && $0.dtype == "F32" })
        #expect(r.header["transformer.wte.weight"]?.shape == [200, 8])
        #expect(try r.floats("transformer.wte.weight").elementsEqual(ck.parameters[0 ..< 200 * 8]))
        // llm[o][i] = hf[i][o] for the four Conv1D matrices, including the square c_proj.
        for (tensor, name, out, inp) in [(ParameterTensor.qkvw, "attn.c_attn", 3 * C, C), (.attprojw, "attn.c_proj", C, C),
                                          (.fcw, "mlp.c_fc", 4 * C, C), (.fcprojw, "mlp.c_proj", C, 4 * C)] {
            let hf = try r.floats("transformer.h.1.\(name).weight")
            #expect(r.header["transformer.h.1.\(name).weight"]?.shape == [inp, out])
            let base = t.offset(tensor, layer: 1)
            var agree = true
            for o in 0..<out {
                for i in 0..<inp where hf[i * out + o] != ck.parameters[base + o * inp + i] { agree = false }
            }
            #expect(agree, "\(name) is the transpose of \(tensor.name)")
            #expect(try r.floats("transformer.h.1.\(name).bias").elementsEqual(ck.values(tensor == .qkvw ? .qkvb : tensor == .attprojw ? .attprojb : tensor == .fcw ? .fcb : .fcprojb).suffix(out)))
        }
        let config = try JSONSerialization.jsonObject(with: Data(Fixtures.read(dir + "/config.json"))) as? [String: Any]
        #expect(config?["model_type"] as? String == "gpt2")
        #expect(config?["architectures"] as? [String] == ["GPT2LMHeadModel"])
        #expect(config?["n_positions"] as? Int == 8 && config?["n_ctx"] as? Int == 8)
        #expect(config?["vocab_size"] as? Int == 200 && config?["n_embd"] as? Int == 8)
        #expect(config?["n_layer"] as? Int == 2 && config?["n_head"] as? Int == 2)
        #expect(config?["tie_word_embeddings"] as? Bool == true)
        #expect(config?["layer_norm_epsilon"] as? Double == 1e-5)
        // A 200-token vocabulary has no GPT-2 end-of-text token 50256.
        #expect(config?["eos_token_id"] is NSNull)
    }

    /// Writes `ck` as the hub stores GPT-2: no prefix, plus the attention buffers, and
    /// optionally an lm_head.
    func hubStyle(_ ck: Checkpoint, _ dir: String, lmHead: [Float]? = nil, drop: String? = nil, extra: String? = nil) throws {
        let c = ck.config
        try ck.writeHF(directory: dir + "/prefixed")
        let export = try SafetensorsReader(path: dir + "/prefixed/model.safetensors")
        var tensors = try HFGPT2.layout(c).map { name, t, _ in
            let values = try export.floats("transformer." + name)
            return Safetensors.Tensor(name: name, shape: HFGPT2.shape(t, c)) { values }
        }
        for l in 0..<c.numLayers {
            tensors.append(.init(name: "h.\(l).attn.bias", shape: [1, 1, 8, 8]) { [Float](repeating: 1, count: 64) })
            tensors.append(.init(name: "h.\(l).attn.masked_bias", shape: []) { [-1e4] })
        }
        if let lmHead { tensors.append(.init(name: "lm_head.weight", shape: [c.vocabSize, c.channels]) { lmHead }) }
        if let drop { tensors.removeAll { $0.name == drop } }
        if let extra { tensors.append(.init(name: extra, shape: [8]) { [Float](repeating: 0, count: 8) }) }
        try Safetensors.write(tensors, metadata: [:], to: dir + "/model.safetensors")
        try FileManager.default.copyItem(atPath: dir + "/prefixed/config.json", toPath: dir + "/config.json")
    }

    @Test func importsHubNamesBuffersAndTiedHead() throws {
        let ck = Checkpoint.random(config: tiny, seed: 13)
        let wte = Array(ck.values(.wte).prefix(200 * 8))
        let dir = Fixtures.tempDir("ckpt-hub")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try hubStyle(ck, dir, lmHead: wte)
        #expect(bitsEqual(try Checkpoint.read(path: dir).parameters, ck.parameters))
        let info = try CheckpointInfo.inspect(path: dir + "/model.safetensors")
        #expect(info.ok && info.checks.contains { $0.name == "lm_head" })
    }

    @Test func rejectsUntiedHeadAndWrongNames() throws {
        let ck = Checkpoint.random(config: tiny, seed: 14)
        var head = Array(ck.values(.wte).prefix(200 * 8))
        head[17] += 1
        let untied = Fixtures.tempDir("ckpt-hub")
        defer { try? FileManager.default.removeItem(atPath: untied) }
        try hubStyle(ck, untied, lmHead: head)
        #expect(checkpointError { _ = try Checkpoint.read(path: untied) }?.reason == .untiedOutputLayer)
        let missing = Fixtures.tempDir("ckpt-hub")
        defer { try? FileManager.default.removeItem(atPath: missing) }
        try hubStyle(ck, missing, drop: "h.1.mlp.c_fc.bias")
        #expect(checkpointError { _ = try Checkpoint.read(path: missing) }?.message == "missing tensor h.1.mlp.c_fc.bias")
        let extra = Fixtures.tempDir("ckpt-hub")
        defer { try? FileManager.default.removeItem(atPath: extra) }
        try hubStyle(ck, extra, extra: "h.2.ln_1.weight")
        #expect(checkpointError { _ = try Checkpoint.read(path: extra) }?.message.contains("unexpected tensor h.2.ln_1.weight") == true)
    }

    @Test(arguments: [
        (#""layer_norm_epsilon": 1e-05"#, #""layer_norm_epsilon": 1e-06"#, "layer_norm_epsilon"),
        (#""activation_function": "gelu_new""#, #""activation_function": "relu""#, "activation_function"),
        (#""n_inner": null"#, #""n_inner": 100"#, "n_inner"),
        (#""n_head": 2"#, #""n_head": 3"#, "not a multiple of the head count 3"),
        (#""n_head": 2"#, #""n_head": 2.5"#, "not an integer"),
        (#""n_layer": 2"#, #""n_layer": 200000000000"#, "implausibly large"),
        (#""n_embd": 8,"#, "", "missing n_embd"),
        (#""model_type": "gpt2""#, #""model_type": "llama""#, "model_type"),
        (#""tie_word_embeddings": true"#, #""tie_word_embeddings": false"#, "tie_word_embeddings"),
        (#""vocab_size": 200"#, #""vocab_size": 100"#, "shape [200, 8], config.json implies [100, 8]"),
        // Shapes the weights file cannot hold, refused before allocating for them (the reader
        // allocated 25 million parameters here, and trapped on the vocabulary's padding).
        (#""n_embd": 8,"#, #""n_embd": 1024,"#, "describes a model of 25407488 parameters"),
        (#""vocab_size": 200"#, #""vocab_size": 9223372036854775807"#, "vocab_size is 9223372036854775807: an implausibly large model"),
    ])
    func configProblemsAreNamed(_ from: String, _ to: String, _ text: String) throws {
        let dir = Fixtures.tempDir("ckpt-cfg")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Checkpoint.random(config: tiny, seed: 15).writeHF(directory: dir)
        let json = String(decoding: Fixtures.read(dir + "/config.json"), as: UTF8.self)
        #expect(json.contains(from))
        Fixtures.write(json.replacingOccurrences(of: from, with: to), to: dir + "/config.json")
        let e = checkpointError { _ = try Checkpoint.read(path: dir) }
        #expect(e?.message.contains(text) == true, "\(e?.description ?? "no error")")
    }

    @Test func needsConfigJSON() throws {
        let dir = Fixtures.tempDir("ckpt-cfg")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Checkpoint.random(config: tiny, seed: 16).writeHF(directory: dir)
        try FileManager.default.removeItem(atPath: dir + "/config.json")
        #expect(checkpointError { _ = try Checkpoint.read(path: dir) }?.reason == .badHFConfig)
    }

    @Test func bfloat16SafetensorsImport() throws {
        // Store every tensor as BF16: the import widens exactly and reports bfloat16.
        let ck = Checkpoint.random(config: tiny, seed: 17)
        let dir = Fixtures.tempDir("ckpt-bf16")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ck.writeHF(directory: dir)
        let r = try SafetensorsReader(path: dir + "/model.safetensors")
        var json = "{", data: [UInt8] = []
        for e in r.header.entries {
            let words = try r.floats(e.name).map(BFloat16.bits)
            json += "\(Safetensors.quote(e.name)):{\"dtype\":\"BF16\",\"shape\":\(e.shape),\"data_offsets\":[\(data.count),\(data.count + 2 * words.count)]},"
            data += littleEndianBytes(words)
        }
        json.removeLast()
        json += "}"
        Fixtures.write(littleEndianBytes([UInt64(json.utf8.count)]) + Array(json.utf8) + data, to: dir + "/model.safetensors")
        let back = try Checkpoint.read(path: dir)
        #expect(back.sourceType == .bfloat16)
        #expect(bitsEqual(back.parameters, ck.parameters.map { BFloat16.float(BFloat16.bits($0)) }))
    }

    /// The test venv's python and a checker script beside this file; nil (the test prints that
    /// it is skipped) without a venv.
    func checker(_ name: String, file: String = #filePath) -> (python: String, script: String)? {
        guard let python = Fixtures.venvPython else {
            print("skipped: no venv python (make venv, or set KILN_VENV)")
            return nil
        }
        return (python, URL(fileURLWithPath: file).deletingLastPathComponent().path + "/" + name)
    }

    /// Cross-check with Python's safetensors and numpy: names, shapes and dtypes as
    /// GPT2LMHeadModel expects them, and the transposes against the llm.c file of the same model.
    @Test func pythonReadsTheExport() throws {
        guard let (python, script) = checker("check_hf_export.py") else { return }
        let dir = Fixtures.tempDir("ckpt-py")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ck = Checkpoint.random(config: GPTConfig(maxSeqLen: 16, vocabSize: 300, numLayers: 3, numHeads: 4, channels: 32), seed: 5)
        try ck.writeHF(directory: dir + "/hf")
        try ck.write(llmc: dir + "/model.bin")
        let r = try Fixtures.run(python, [script, dir + "/hf", dir + "/model.bin"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ok:"), "\(r.stdout)")
    }

    /// transformers runs the export and gives Kiln's logits (GPT2LMHeadModel with PyTorch, else
    /// its Flax port, which reads model.safetensors through the same conventions).
    @Test func transformersGivesTheSameLogits() throws {
        guard let (python, script) = checker("check_hf_logits.py") else { return }
        let dir = Fixtures.tempDir("ckpt-logits")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = GPTConfig(maxSeqLen: 16, vocabSize: 300, numLayers: 3, numHeads: 4, channels: 32)
        var ck = Checkpoint.random(config: config, seed: 8)
        // Larger weights than the initialisation's, so that every layer changes the logits.
        var rng = SplitMix64(state: 9)
        ck.parameters = ck.parameters.map { $0 * 5 + Float(rng.next() % 1000) / 1e5 }
        try ck.writeHF(directory: dir + "/hf")
        let (B, T) = (2, 16)
        let ids = (0 ..< B * T).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let model = GPT(config: config, parameters: ck.parameters, threads: 1)
        _ = model.forward(TokenBatch(B: B, T: T, inputs: ids, targets: ids))
        var logits: [Float] = []
        for b in 0 ..< B { for t in 0 ..< T { logits += model.logits(b: b, t: t)[0 ..< config.vocabSize] } }
        Fixtures.write(littleEndianBytes(ids), to: dir + "/ids.bin")
        Fixtures.write(littleEndianBytes(logits.map(\.bitPattern)), to: dir + "/logits.bin")
        let r = try Fixtures.run(python, [script, dir + "/hf", dir + "/ids.bin", dir + "/logits.bin", "\(B)", "\(T)"])
        if r.status == 3 {
            print(r.stdout)
            return
        }
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("ok:"), "\(r.stdout)")
    }

    /// The other way: a hub-style folder written by safetensors' own `save_file` (bare names,
    /// attention buffers, a tied lm_head, the hub's config.json) imports to the same parameters.
    @Test func importsWhatPythonWrites() throws {
        guard let (python, script) = checker("check_hf_export.py") else { return }
        let dir = Fixtures.tempDir("ckpt-py")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ck = Checkpoint.random(config: GPTConfig(maxSeqLen: 16, vocabSize: 300, numLayers: 3, numHeads: 4, channels: 32), seed: 6)
        try ck.write(llmc: dir + "/model.bin")
        let r = try Fixtures.run(python, [script, "--make-hub", dir + "/model.bin", dir + "/hub"])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let back = try Checkpoint.read(path: dir + "/hub")
        #expect(back.config == ck.config)
        #expect(bitsEqual(back.parameters, ck.parameters))
    }
}
