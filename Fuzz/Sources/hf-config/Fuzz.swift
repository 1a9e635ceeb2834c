// config.json of a Hugging Face GPT-2 folder, as tune reads one: Checkpoint.read(path:) and
// CheckpointInfo.inspect on a folder (in /dev/shm) that holds the input as config.json beside a
// fixed model.safetensors, a tiny GPT-2 (L1 C4 NH2 T4 V8) written at start with writeHF. Every
// failure must be a CheckpointError; a config.json that is accepted must give back that model's
// shape and exactly its weights. A config claiming a model the weights file cannot hold must be
// refused before anything is allocated for it (a reader that allocates first shows as an
// out-of-memory finding under -rss_limit_mb).
import FuzzSupport
import GPTModel

#if canImport(Glibc)
import Glibc
#endif

let tiny = GPTConfig(maxSeqLen: 4, vocabSize: 8, numLayers: 1, numHeads: 2, channels: 4)

let model: Checkpoint = {
    let m = Checkpoint.random(config: tiny, seed: 1)
    do {
        try m.writeHF(directory: scratchDirectory)
    } catch {
        fatalError("cannot write the tiny model: \(error)")
    }
    atexit { removeScratchFile("model.safetensors") }
    return m
}()

func expectCheckpointError(_ what: String, _ body: () throws -> Void) {
    do { try body() } catch is CheckpointError {} catch {
        fatalError("\(what) threw \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let weights = model.parameters
    scratchFile("config.json", input(data, size))
    defer { removeScratchFile("config.json") }
    expectCheckpointError("Checkpoint.read(path:)") {
        let c = try Checkpoint.read(path: scratchDirectory)
        // The heads do not show in the tensors' shapes: any divisor of the channels reads.
        var shape = c.config
        shape.numHeads = tiny.numHeads
        precondition(shape == tiny, "config.json read as \(c.config), the tensors are \(tiny)")
        precondition(c.parameters == weights, "the weights read are not the weights written")
    }
    expectCheckpointError("CheckpointInfo.inspect") { _ = try CheckpointInfo.inspect(path: scratchDirectory) }
    return 0
}
