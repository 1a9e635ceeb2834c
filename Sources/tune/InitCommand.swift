import ArgumentParser
import FineTuning
import Foundation
import GPTModel
import Tokenization

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Write a GPT-2-style random initialisation as an llm.c model file.",
        discussion: """
            Weights are drawn as GPT-2 and llm.c draw them: N(0, 0.02) for embeddings and
            matrices, the residual projections (attention and MLP outputs) scaled by
            1/sqrt(2L), biases 0, LayerNorm weights 1. The vocabulary is padded to a
            multiple of 128 with zero rows, as llm.c pads it. The same --seed gives the
            same file, bit for bit, on any machine.

            With --tokenizer, the vocabulary size comes from the tokenizer and its
            fingerprint is written beside the model (MODEL.kiln.json), so `tune run`
            can refuse token shards of another tokenizer.

            Presets: d6 (L6 C384 H6), d12 (GPT-2 small: L12 C768 H12), d24 (L24 C1024
            H16), d36 (L36 C1280 H20), d48 (L48 C1600 H25).

            EXAMPLES
              tune init --preset d12 --out gpt2-small-init.bin
              tune init --layers 4 --channels 256 --heads 4 --max-seq 256 \\
                  --tokenizer out/tokenizer --out out/base.bin --seed 1

            \(ExitStatus.helpText)
            """)

    @Option(help: "A named shape: \(GPTConfig.presetNames.joined(separator: ", ")).")
    var preset: String?

    @Option(help: "Transformer layers (L).") var layers: Int?
    @Option(help: "Channels, the embedding width (C).") var channels: Int?
    @Option(help: "Attention heads (NH); must divide the channels.") var heads: Int?
    @Option(help: "Vocabulary size (default: the tokenizer's, else GPT-2's 50257).") var vocab: Int?
    @Option(help: "Maximum sequence length (default: 1024).") var maxSeq: Int?

    @Option(help: "A tokenizer folder: its vocabulary size and fingerprint go with the model.")
    var tokenizer: String?

    @Option(help: "Random seed (default: 42).") var seed: UInt64 = 42

    @Option(help: "Weight type of the file: float32 (llm.c version 3) or bfloat16 (version 5).")
    var type: WeightType = .float32

    @Option(name: .long, help: "The model file to write.") var out: String

    @Flag(help: "Print the result as JSON on standard output.") var json = false
    @Flag(help: "Print nothing but errors.") var quiet = false

    func validate() throws {
        if preset == nil && (layers == nil || channels == nil || heads == nil) {
            throw ValidationError("give --preset, or --layers, --channels and --heads")
        }
        if let preset, GPTConfig.preset(preset) == nil {
            throw ValidationError("unknown preset \(preset) (known: \(GPTConfig.presetNames.joined(separator: ", ")))")
        }
    }

    mutating func run() async throws {
        let output = Output(label: "init", quiet: quiet || json)
        var tok: Tokenizer? = nil
        if let tokenizer {
            do { tok = try TokenizerFiles.load(directory: tokenizer) } catch { throw ValidationError("\(tokenizer): \(error)") }
        }
        let vocabSize = vocab ?? tok?.vocabularySize ?? 50257
        if let tok, vocabSize < tok.vocabularySize {
            throw ValidationError("--vocab \(vocabSize) is smaller than the tokenizer's \(tok.vocabularySize) tokens")
        }
        var config = preset.flatMap { GPTConfig.preset($0, vocabSize: vocabSize, maxSeqLen: maxSeq ?? 1024) }
            ?? GPTConfig(maxSeqLen: maxSeq ?? 1024, vocabSize: vocabSize, numLayers: layers ?? 0, numHeads: heads ?? 0,
                         channels: channels ?? 0)
        if let layers { config.numLayers = layers }
        if let channels { config.channels = channels }
        if let heads { config.numHeads = heads }
        if let problem = config.problem { throw ValidationError(problem) }

        let started = Date()
        let checkpoint = Checkpoint.random(config: config, seed: seed)
        do {
            try checkpoint.write(llmc: out, type: type)
            try ModelCard(kilnVersion: "0.1.0", tokenizerFingerprint: tok?.fingerprint, vocabularySize: config.vocabSize,
                          endOfText: tok?.specialTokens["<|endoftext|>"], madeBy: "tune init --seed \(seed)")
                .write(for: out)
        } catch { throw output.fail(error) }
        let table = ParameterTable(config)
        struct Result: Encodable { var path: String; var config: GPTConfig; var parameters: Int; var type: WeightType; var seed: UInt64; var seconds: Double }
        if json {
            try output.json(Result(path: out, config: config, parameters: table.total, type: type, seed: seed,
                                   seconds: Date().timeIntervalSince(started)))
        } else {
            output.info(String(format: "%@: %@, %.1fM parameters, %@, seed %llu (%.1fs)", out, config.description,
                               Double(table.total) / 1e6, type.rawValue, seed, Date().timeIntervalSince(started)))
        }
    }
}

extension WeightType: ExpressibleByArgument {}
