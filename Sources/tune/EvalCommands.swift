import ArgumentParser
import FineTuning
import Foundation
import GPTModel
import Kernels
import ShardFormat
import Tokenization

/// Loads a checkpoint as a model (any format `Checkpoint.read` knows).
func loadModel(_ path: String, threads: Int?, output: Output) throws -> GPT {
    let c: Checkpoint
    do { c = try readCheckpoint(path) } catch { throw output.fail(error) }
    let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
    BLAS.threads = n
    return GPT(config: c.config, parameters: c.parameters, threads: n)
}

/// The chat template: a file, else the one the data folder was tokenized with, else the default.
func chatTemplate(file: String?, data: String?) throws -> ChatTemplate {
    if let file {
        do { return try ChatTemplate.fromYAML(String(contentsOfFile: file, encoding: .utf8)) } catch {
            throw ValidationError("\(file): \(error)")
        }
    }
    if let data, let template = DataFacts.read(data).template { return template }
    return .default
}

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Loss and perplexity on token shards; accuracy on downstream tasks.",
        discussion: """
            --data: the mean loss per trained token (answers only, for SFT shards) and its
            perplexity, over the validation split (val_*.bin) of a `prep tokenize` folder,
            or --split train.

            --tasks FILE.jsonl (repeatable): records in an SFT shape (messages,
            prompt/completion, instruction/input/output), rendered with the chat template
            (--template, else the one --data was tokenized with, else the default). A
            record with "choices" (and "completion" or an "answer" index naming the right
            one) is classified by the log-likelihood of each choice; one without is
            answered greedily and scored by exact match. Every record also gives the loss
            of its reference answer, per answer token: lower after fine-tuning means the
            model learned the task.

            EXAMPLES
              tune eval out/run/model_00000200.bin --data out/sft-chat
              tune eval out/run/model_00000200.bin --tokenizer out/tokenizer \\
                  --tasks samples/tasks/sentiment-zh/test.jsonl --json

            \(ExitStatus.helpText)
            """)

    @Argument(help: "The checkpoint.") var checkpoint: String
    @Option(help: "Token shards: a `prep tokenize` folder or a glob.") var data: String?
    @Option(help: "train or val (default: val).") var split = "val"
    @Option(help: "A task file (JSONL); repeat for several.") var tasks: [String] = []
    @Option(help: "The tokenizer folder (needed with --tasks).") var tokenizer: String?
    @Option(help: "A chat template file (YAML).") var template: String?
    @Option(help: "Records per task file (default: all).") var limit: Int?
    @Option(help: "Rows per batch (default: 8).") var batchSize = 8
    @Option(help: "Positions per row (default: the model's maximum, up to 256).") var seqLen: Int?
    @Option(help: "Batches at most (default: one pass over the split).") var maxBatches: Int?
    @Option(help: "Threads (default: the cores).") var threads: Int?
    @Flag(help: "Print the result as JSON on standard output.") var json = false

    func validate() throws {
        if data == nil && tasks.isEmpty { throw ValidationError("give --data, --tasks or both") }
        if !tasks.isEmpty && tokenizer == nil { throw ValidationError("--tasks needs --tokenizer") }
    }

    mutating func run() async throws {
        let output = Output(label: "eval", quiet: json)
        let model = try loadModel(checkpoint, threads: threads, output: output)
        struct Result: Encodable { var checkpoint: String; var data: String?; var loss: Double?; var perplexity: Double?; var tokens: Double?; var tasks: [TaskEvaluator.Report] }
        var result = Result(checkpoint: checkpoint, data: data, tasks: [])
        if let data {
            do {
                let shards = try shardPaths(data, split: split).map { try MappedShard(path: $0) }
                let T = min(seqLen ?? min(256, model.config.maxSeqLen), model.config.maxSeqLen)
                let r = try evaluateShards(model: model, shards: shards, B: batchSize, T: T, packing: .packed,
                                           padToken: 0, maxBatches: maxBatches)
                result.loss = r.loss
                result.perplexity = exp(r.loss)
                result.tokens = r.tokens
                if !json { print(String(format: "%@ (%@): loss %.4f, perplexity %.2f over %.0f tokens", data, split, r.loss, exp(r.loss), r.tokens)) }
            } catch { throw output.fail(error) }
        }
        if !tasks.isEmpty, let tokenizer {
            let tok: Tokenizer
            do { tok = try TokenizerFiles.load(directory: tokenizer) } catch { throw ValidationError("\(tokenizer): \(error)") }
            guard let eot = tok.specialTokens["<|endoftext|>"] else { throw ValidationError("\(tokenizer) has no <|endoftext|>") }
            let renderer = try ChatRenderer(template: try chatTemplate(file: template, data: data), tokenizer: tok, endOfText: eot,
                                            allowSpecialText: true)
            let evaluator = TaskEvaluator(model: model, renderer: renderer)
            for file in tasks {
                let r: TaskEvaluator.Report
                do { r = try evaluator.evaluate(file: file, limit: limit) } catch { throw output.fail(error) }
                result.tasks.append(r)
                if !json {
                    var line = String(format: "%@: %d records, answer loss %.4f per token", file, r.records, r.answerLoss)
                    if let a = r.accuracy { line += String(format: ", accuracy %.3f (%d of %d)", a, r.correct, r.classified) }
                    if let e = r.exactMatch { line += String(format: ", exact match %.3f (%d of %d)", e, r.exactMatches, r.generated) }
                    if r.skipped > 0 { line += ", \(r.skipped) skipped" }
                    print(line)
                    for e in r.examples.prefix(3) { print("  " + e.replacingOccurrences(of: "\n", with: "⏎")) }
                }
            }
        }
        if json { try output.json(result) }
    }
}

struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample text from a checkpoint, printed as the tokens arrive.",
        discussion: """
            Uses the KV cache: each new token costs one position of the model. Stops at
            <|endoftext|> or --max-tokens. With --chat the prompt is a user message,
            rendered with the chat template (--template, or the default) up to the
            assistant's turn, so a model fine-tuned on chat data answers it.

            EXAMPLES
              tune generate out/run/model_00000200.bin --tokenizer out/tokenizer \\
                  --prompt "What is AI?" --chat --temperature 0
              tune generate base.bin --tokenizer tok --prompt "Once upon a time" \\
                  --max-tokens 100 --top-k 40 --seed 7

            \(ExitStatus.helpText)
            """)

    @Argument(help: "The checkpoint.") var checkpoint: String
    @Option(help: "The tokenizer folder.") var tokenizer: String
    @Option(help: "The prompt text.") var prompt: String = ""
    @Flag(help: "Treat the prompt as a chat message and answer it.") var chat = false
    @Option(help: "A chat template file (YAML).") var template: String?
    @Option(help: "Sampling temperature; 0 is greedy (default: \(SamplingOptions().temperature)).") var temperature: Double?
    @Option(help: "Top-k; 0 keeps all (default: \(SamplingOptions().topK)).") var topK: Int?
    @Option(help: "Top-p (nucleus); 1 keeps all (default: \(SamplingOptions().topP)).") var topP: Double?
    @Option(help: "Tokens to generate at most (default: \(SamplingOptions().maxTokens)).") var maxTokens: Int?
    @Option(help: "Random seed (default: \(SamplingOptions().seed)).") var seed: UInt64?
    @Option(help: "Threads (default: the cores).") var threads: Int?
    @Flag(help: "Print the result as JSON (text and token ids) instead of streaming.") var json = false

    mutating func run() async throws {
        let output = Output(label: "generate", quiet: json)
        var o = SamplingOptions()
        if let temperature { o.temperature = temperature }
        if let topK { o.topK = topK }
        if let topP { o.topP = topP }
        if let maxTokens { o.maxTokens = maxTokens }
        if let seed { o.seed = seed }
        guard o.temperature >= 0, o.topK >= 0, o.topP > 0, o.topP <= 1, o.maxTokens > 0 else {
            throw ValidationError("--temperature ≥ 0, --top-k ≥ 0, --top-p in (0, 1], --max-tokens > 0")
        }
        let tok: Tokenizer
        do { tok = try TokenizerFiles.load(directory: tokenizer) } catch { throw ValidationError("\(tokenizer): \(error)") }
        let eot = tok.specialTokens["<|endoftext|>"]
        let model = try loadModel(checkpoint, threads: threads, output: output)
        guard tok.vocabularySize <= model.config.vocabSize else {
            throw ValidationError("the tokenizer has \(tok.vocabularySize) tokens, the model's vocabulary \(model.config.vocabSize)")
        }
        var ids: [Int]
        if chat {
            guard let eot else { throw ValidationError("--chat needs <|endoftext|> in the tokenizer") }
            let renderer = try ChatRenderer(template: try chatTemplate(file: template, data: nil), tokenizer: tok, endOfText: eot,
                                            allowSpecialText: true)
            let r = try renderer.render([SFTTurn(role: .user, content: prompt), SFTTurn(role: .assistant, content: "")], maxTokens: Int.max)
            ids = r.tokens[..<(r.answers.last?.lowerBound ?? r.tokens.count)].map(Int.init)
        } else {
            ids = (eot.map { [$0] } ?? []) + tok.encodeOrdinary(prompt)
        }
        if !json && !chat { FileHandle.standardOutput.write(Data(prompt.utf8)) }
        let out = Generator(model: model).generate(prompt: ids, options: o, stop: Set(eot.map { [$0] } ?? [])) { t in
            if !json, let b = tok.bytes(forToken: t) { FileHandle.standardOutput.write(Data(b)) }
        }
        let text = String(decoding: (try? tok.decode(out)) ?? [], as: UTF8.self)
        if json {
            struct Result: Encodable { var prompt: String; var text: String; var tokens: [Int] }
            try output.json(Result(prompt: prompt, text: text, tokens: out))
        } else {
            FileHandle.standardOutput.write(Data("\n".utf8))
        }
    }
}

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as HF safetensors (for transformers) or as llm.c's bf16 file.",
        discussion: """
            --to hf writes model.safetensors + config.json (GPT2LMHeadModel; the Conv1D
            weights transposed, the vocabulary padding dropped) and, with --tokenizer,
            the tokenizer files (tokenizer.json, vocab.json, merges.txt) into --out.
            --to llmc-bf16 writes llm.c's version-5 file (bf16, rounded to nearest even);
            --to llmc its version-3 fp32 file.

            EXAMPLES
              tune export out/run/model_00000200.bin --to hf --tokenizer out/tokenizer --out out/hf
              tune export out/run/model_00000200.bin --to llmc-bf16 --out out/model_bf16.bin
              tune export out/lora-run --merge-lora --to llmc --out out/merged.bin

            \(ExitStatus.helpText)
            """)

    enum Target: String, ExpressibleByArgument { case hf, llmc, llmcBf16 = "llmc-bf16" }

    @Argument(help: "The checkpoint.") var checkpoint: String
    @Option(help: "hf, llmc or llmc-bf16.") var to: Target
    @Option(name: .long, help: "The folder (hf) or file (llmc) to write.") var out: String
    @Option(help: "A tokenizer folder to copy into an HF export.") var tokenizer: String?
    @Flag(help: "The checkpoint holds LoRA adapters: fold them into their base model.") var mergeLora = false
    @Flag(help: "Print the result as JSON on standard output.") var json = false

    mutating func run() async throws {
        let output = Output(label: "export", quiet: json)
        do {
            let source = resolveCheckpoint(checkpoint)
            if isAdapter(source) && !mergeLora {
                throw ValidationError("\(source) holds LoRA adapters: give --merge-lora to fold them into their base model")
            }
            let c = try readCheckpoint(source)
            var files: [String] = []
            switch to {
            case .hf:
                let tok = try tokenizer.map { try TokenizerFiles.load(directory: $0) }
                try c.writeHF(directory: out, endOfTextToken: tok?.specialTokens["<|endoftext|>"])
                files = [out + "/model.safetensors", out + "/config.json"]
                if let tok {
                    try TokenizerFiles.writeHuggingFace(tok, to: out + "/tokenizer.json")
                    try TokenizerFiles.writeVocabMerges(tok, vocab: out + "/vocab.json", merges: out + "/merges.txt")
                    files += [out + "/tokenizer.json", out + "/vocab.json", out + "/merges.txt"]
                }
            case .llmc, .llmcBf16:
                try c.write(llmc: out, type: to == .llmc ? .float32 : .bfloat16)
                if let card = ModelCard.read(for: source) {
                    var copy = card
                    copy.madeBy = "tune export --to \(to.rawValue)"
                    copy.base = checkpoint
                    try copy.write(for: out)
                }
                files = [out]
            }
            if json {
                struct Result: Encodable { var checkpoint: String; var to: String; var files: [String]; var config: GPTConfig }
                try output.json(Result(checkpoint: checkpoint, to: to.rawValue, files: files, config: c.config))
            } else {
                output.info("\(c.config): " + files.joined(separator: " "))
            }
        } catch let e as ValidationError {
            throw e
        } catch {
            throw output.fail(error)
        }
    }
}
