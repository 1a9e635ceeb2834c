// safetensors files, as tune reads a Hugging Face GPT-2 checkpoint: the header through
// Safetensors.parseHeader, the file through SafetensorsReader (every F32/BF16/F16 tensor read),
// and Checkpoint.read(path:) with a fixed config.json of a tiny GPT-2 beside it (the seeds are
// that model). The reader takes a path, so the input is written to a scratch file in /dev/shm.
// Every failure must be a CheckpointError.
import FuzzSupport
import GPTModel

let configJSON = Array("""
    {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 8, "n_positions": 4,
     "n_ctx": 4, "n_embd": 4, "n_layer": 1, "n_head": 2, "activation_function": "gelu_new",
     "layer_norm_epsilon": 1e-05, "tie_word_embeddings": true}
    """.utf8)

func expectCheckpointError(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch is CheckpointError {} catch {
        fatalError("\(what) threw \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    if bytes.count >= 8 {
        let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        if n <= UInt64(bytes.count - 8) {
            let end = 8 + Int(n)
            expectCheckpointError("Safetensors.parseHeader") {
                _ = try Safetensors.parseHeader(json: Array(bytes[8..<end]), dataStart: end, dataBytes: bytes.count - end,
                                                path: "model.safetensors")
            }
        }
    }
    let path = scratchFile("model.safetensors", bytes)
    scratchFile("config.json", configJSON)
    defer { removeScratchFile("model.safetensors"); removeScratchFile("config.json") }
    expectCheckpointError("SafetensorsReader") {
        let reader = try SafetensorsReader(path: path)
        for e in reader.header.entries where ["F32", "BF16", "F16"].contains(e.dtype) {
            let values = try reader.floats(e.name)
            precondition(values.count == e.count, "tensor \(e.name) reads the wrong count")
        }
    }
    expectCheckpointError("Checkpoint.read(path:)") { _ = try Checkpoint.read(path: path) }
    return 0
}
