import ArgumentParser
import DataPrep
import Foundation
import ShardFormat
import Tokenization

struct TrainTokenizerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-tokenizer",
        abstract: "Learn a byte-level BPE vocabulary (GPT-2 style) from document shards.",
        discussion: """
            Streams the shards, counts pre-tokens (GPT-2, cl100k or o200k pattern) on
            every thread with 64-bit counts, and learns merges incrementally (pair
            counts kept up to date with an index of where each pair occurs and a
            priority queue). Ties between pairs of equal count go to the smallest
            (left id, right id); the merges do not depend on the thread count.

            Writes, into --out: tokenizer.json (HF tokenizers), vocab.json +
            merges.txt (GPT-2), tokenizer.tiktoken (tiktoken ranks),
            gpt2_tokenizer.bin (llm.c's decoder table), vocab.txt (for people) and
            manifest.json. A rerun with the same inputs and options does nothing
            (--force redoes it).

            EXAMPLES
              prep train-tokenizer out/dedup --vocab-size 8192 --out out/tokenizer
              prep train-tokenizer out/dedup --vocab-size 32768 --min-frequency 5 \\
                  --special '<|endoftext|>' --special '<|im_start|>' --out tok

            \(ExitStatus.helpText)
            """)

    @Argument(help: "Shard files or folders of shards.")
    var inputs: [String]

    @Option(name: .long, help: "Output folder for the tokenizer files.")
    var out: String

    @Option(help: "Vocabulary size, specials included (default: \(BPETrainerOptions().vocabSize)).")
    var vocabSize: Int?

    @Option(help: "Smallest pair count that is still merged (default: \(BPETrainerOptions().minFrequency)).")
    var minFrequency: UInt64?

    @Option(help: "Longest token in bytes; 0 for no limit (default: \(BPETrainerOptions().maxTokenLength)).")
    var maxTokenLength: Int?

    @Option(help: "A special token (repeat for several; default: <|endoftext|>).")
    var special: [String] = []

    @Option(help: "Pre-tokenization pattern: gpt2, cl100k or o200k (default: gpt2).")
    var pattern: PreTokenizerPattern?

    @Flag(help: "Redo the work even when the manifest says it is complete.")
    var force = false

    @Option(help: "Memory for the pre-token table before rare ones are pruned (default: \(ByteSize.format(TrainTokenizerOptions.defaults.memoryBudget))).")
    var memBudget: ByteSize?

    @OptionGroup var run: RunOptions

    mutating func run() async throws {
        var o = TrainTokenizerOptions()
        if let vocabSize { o.trainer.vocabSize = vocabSize }
        if let minFrequency { o.trainer.minFrequency = minFrequency }
        if let maxTokenLength { o.trainer.maxTokenLength = maxTokenLength }
        if !special.isEmpty { o.trainer.specialTokens = special }
        if let pattern { o.pattern = pattern }
        if let memBudget { o.memoryBudget = memBudget.bytes }
        guard o.trainer.vocabSize > 256 + o.trainer.specialTokens.count else {
            throw ValidationError("--vocab-size must exceed 256 plus the special tokens")
        }
        let all: [IngestInput]
        do { all = try Shards.inputs(inputs) } catch { throw ValidationError("\(error)") }
        let console = Console(quiet: run.quiet, json: run.json, label: "train-tokenizer")
        let progress = IngestProgress()
        let threads = run.layout().threads
        let (m, upToDate) = try console.runStage(progress, itemName: "shards", items: { $0.inputsDone }) {
            try TrainTokenizer.run(inputs: all, outDir: out, options: o, threads: threads, force: force, progress: progress)
        }
        let errors = m.inputs.reduce(0) { $0 + $1.errors }
        try console.finish(m, manifestPath: out + "/manifest.json", upToDate: upToDate,
                           status: errors > 0 ? .inputErrors : .ok) {
            upToDate ? [] : [
                String(format: "%d merges, vocabulary %d, from %d documents (%.1f MB, %d distinct pre-tokens, %d pruned) in %.1fs",
                       m.merges, m.vocabularySize, m.documents, Double(m.textBytes) / 1e6,
                       m.distinctPreTokens, m.prunedPreTokens, m.timings.seconds),
                "files: " + m.files.map { out + "/" + $0 }.joined(separator: " "),
            ] + (errors > 0 ? ["\(errors) input lines were not document records"] : [])
        }
    }
}

struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Turn document shards or SFT examples into llm.c token shards (with Kiln's index beside each).",
        discussion: """
            Documents (the default, --format documents): every document becomes
            <|endoftext|> followed by its tokens (llm.c's convention), in input order,
            into DATA/train_<task>_<n>.bin (and val_<task>_<n>.bin with
            --val-fraction, chosen by a hash of the document id). Shards hold exactly
            --shard-tokens tokens (documents cross their boundaries, as in llm.c's
            fineweb.py); uint16 tokens when the vocabulary fits (magic 20240520),
            uint32 otherwise (magic 20240801). Beside each shard, <shard>.idx holds
            document offsets and the shard's SHA-256; the layout is in
            schemas/token-shards.md. The bytes do not depend on --threads.

            Supervised fine-tuning (--format chat | alpaca | prompt-completion): the
            inputs are JSONL files (or JSON arrays) of examples:
              chat               {"messages": [{"role": "system"|"user"|"assistant",
                                                "content": "..."}, ...]}
              alpaca             {"instruction": "...", "input": "...", "output": "..."}
              prompt-completion  {"prompt": "...", "completion": "..."}
            Each example is rendered with a chat template and written as one document
            with a loss mask in its index: only the answers (assistant messages,
            completions) and the end-of-turn after each are trained. The default
            template, for base GPT-2-style models:
              <|endoftext|>System: ...\\n\\nUser: ...\\n\\nAssistant: ...<|endoftext|>
            --template FILE reads another (YAML keys begin, system, user, assistant,
            prompt, completion; each role holds {content} once, and what follows
            {content} in assistant/completion is the trained end-of-turn).
            Examples longer than --max-tokens are cut; one left with no trained token
            is refused. Also refused, with file and line in the manifest: invalid JSON,
            a record of the wrong shape, no answer, text that spells a special token
            (an end marker pasted into the data; --allow-special-text encodes it as
            text), and two end-of-text tokens side by side. The manifest's "sft"
            section gives the trained-token fraction, the cut count and how the cut
            left each answer (answer_coverage).

            A rerun with the same inputs, tokenizer and options does nothing
            (--force redoes it).

            EXAMPLES
              prep tokenize out/dedup --tokenizer out/tokenizer --out out/tokens
              prep tokenize out/dedup --tokenizer out/tokenizer --out out/tokens \\
                  --val-fraction 0.01 --shard-tokens 10000000
              prep tokenize chats.jsonl --format chat --tokenizer out/tokenizer \\
                  --out out/sft --max-tokens 512 --val-fraction 0.05
              prep tokenize alpaca.json --format alpaca --template my-template.yaml \\
                  --tokenizer out/tokenizer --out out/sft

            \(ExitStatus.helpText)
            """)

    @Argument(help: "Shard files or folders of shards; with an SFT --format, JSONL or JSON files of examples.")
    var inputs: [String]

    @Option(help: "Tokenizer folder (tokenizer.json, vocab.json + merges.txt, or a .tiktoken file).")
    var tokenizer: String

    @Option(name: .long, help: "Output folder for the token shards.")
    var out: String

    @Option(help: "What the inputs hold: documents, chat, alpaca or prompt-completion (default: documents).")
    var format: TokenizeFormat?

    @Option(help: "SFT: a chat template file (YAML; default: the plain-text template above).")
    var template: String?

    @Option(help: "SFT: cut examples to this many tokens (default: \(TokenizeOptions.defaults.maxTokens)).")
    var maxTokens: Int?

    @Flag(help: "SFT: encode text that spells a special token as ordinary text instead of refusing the example.")
    var allowSpecialText = false

    @Option(help: "Tokens per shard (default: \(TokenizeOptions.defaults.shardTokens)).")
    var shardTokens: Int?

    @Option(help: "Share of documents in the validation split (default: \(TokenizeOptions.defaults.valFraction)).")
    var valFraction: Double?

    @Flag(help: "Redo the work even when the manifest says it is complete.")
    var force = false

    @OptionGroup var run: RunOptions

    mutating func run() async throws {
        var o = TokenizeOptions()
        if let shardTokens { o.shardTokens = shardTokens }
        if let valFraction { o.valFraction = valFraction }
        if let format { o.format = format }
        if let maxTokens { o.maxTokens = maxTokens }
        o.allowSpecialText = allowSpecialText
        guard (1...Int(Int32.max)).contains(o.shardTokens), (0...1).contains(o.valFraction), o.maxTokens > 1 else {
            throw ValidationError("--shard-tokens must be in 1...\(Int32.max) (llm.c's header holds the count as int32), --val-fraction in 0...1 and --max-tokens above 1")
        }
        if let template {
            guard o.format != .documents else { throw ValidationError("--template needs an SFT --format") }
            do {
                o.template = try ChatTemplate.fromYAML(String(contentsOfFile: template, encoding: .utf8))
            } catch { throw ValidationError("\(template): \(error)") }
        }
        let layout = run.layout()
        let tok: Tokenizer
        do { tok = try Tokenize.loadTokenizer(directory: tokenizer, threads: layout.threads) } catch {
            throw ValidationError("\(tokenizer): \(error)")
        }
        if o.format != .documents, let eot = tok.specialTokens[o.endOfText] {
            do { _ = try ChatRenderer(template: o.template, tokenizer: tok, endOfText: eot) } catch {
                throw ValidationError("\(template ?? "the default template"): \(error)")
            }
        }
        let all: [IngestInput]
        do { all = try Shards.inputs(inputs) } catch { throw ValidationError("\(error)") }
        let mine = Dedup.split(all, taskIndex: layout.taskIndex, taskCount: layout.taskCount).inputs
        let console = Console(quiet: run.quiet, json: run.json, label: "tokenize")
        let progress = IngestProgress()
        let command = CommandLine.arguments
        let result = try console.runStage(progress, itemName: "docs") {
            try Tokenize.run(inputs: mine, tokenizer: tok, tokenizerDirectory: tokenizer, outDir: out, options: o,
                             layout: layout, command: command, force: force, progress: progress)
        }
        let m = result.manifest
        let errors = m.inputs.reduce(0) { $0 + $1.errors }
        if !result.upToDate && !run.json, let r = m.sft {
            for p in r.problems.prefix(5) { console.warning("\(p.path) line \(p.line): \(p.message)") }
        }
        try console.finish(m, manifestPath: result.manifestPath, upToDate: result.upToDate,
                           status: errors > 0 ? .inputErrors : .ok) {
            guard !result.upToDate else { return [] }
            var lines = m.splits.sorted(by: { $0.key > $1.key }).filter { $0.value.documents > 0 }.map { name, s in
                "\(name): \(s.tokens) tokens from \(s.documents) \(m.sft == nil ? "documents" : "examples") in \(s.shards.count) shards"
            }
            if let r = m.sft {
                lines.append(String(format: "sft: %d of %d examples written, %d cut at %d tokens, %.1f%% of tokens trained",
                                    r.examplesWritten, r.examplesRead, r.truncated, o.maxTokens, 100 * r.trainedFraction))
                lines += r.refused.sorted(by: { $0.key < $1.key }).map { "  refused \($0.key): \($0.value)" }
            } else if errors > 0 {
                lines.append("\(errors) input lines were not document records")
            }
            return lines + ["manifest: \(result.manifestPath)"]
        }
    }
}

struct EncodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Print the token ids of a text (standard input when no TEXT).",
        discussion: """
            EXAMPLES
              prep encode --tokenizer out/tokenizer "Hello world"
              echo "你好，世界" | prep encode --tokenizer out/tokenizer --json

            \(ExitStatus.helpText)
            """)

    @Option(help: "Tokenizer folder.")
    var tokenizer: String

    @Argument(help: "The text; standard input when absent.")
    var text: String?

    @Flag(help: "Treat special tokens written in the text as special.")
    var allowSpecial = false

    @Flag(help: "Print a JSON array.")
    var json = false

    mutating func run() async throws {
        let tok: Tokenizer
        do { tok = try TokenizerFiles.load(directory: tokenizer) } catch { throw ValidationError("\(tokenizer): \(error)") }
        let input: [UInt8] = text.map { Array($0.utf8) } ?? Array(FileHandle.standardInput.readDataToEndOfFile())
        let ids = allowSpecial ? tok.encode(input, allowedSpecial: Set(tok.specialTokens.keys)) : tok.encodeOrdinary(input)
        print(json ? "[" + ids.map(String.init).joined(separator: ",") + "]" : ids.map(String.init).joined(separator: " "))
    }
}

struct DecodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Print the text of token ids.",
        discussion: """
            EXAMPLES
              prep decode --tokenizer out/tokenizer 15496 995

            \(ExitStatus.helpText)
            """)

    @Option(help: "Tokenizer folder.")
    var tokenizer: String

    @Argument(help: "Token ids.")
    var ids: [Int]

    mutating func run() async throws {
        let tok: Tokenizer
        do { tok = try TokenizerFiles.load(directory: tokenizer) } catch { throw ValidationError("\(tokenizer): \(error)") }
        do {
            FileHandle.standardOutput.write(Data(try tok.decode(ids)))
            print()
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

extension PreTokenizerPattern: ExpressibleByArgument {}
extension TokenizeFormat: ExpressibleByArgument {}
