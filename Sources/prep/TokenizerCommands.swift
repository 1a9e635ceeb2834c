import ArgumentParser
import DataPrep
import Foundation
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
            manifest.json.

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
        let ticker = console.startProgress {
            let s = progress.snapshot()
            return .init(done: s.bytesRead, total: s.totalBytes, items: s.inputsDone, itemName: "shards")
        }
        do {
            let m = try TrainTokenizer.run(inputs: all, outDir: out, options: o, threads: run.layout().threads,
                                           progress: progress)
            ticker.stop()
            if run.json {
                console.printJSON(summary: m, manifestPath: out + "/manifest.json", upToDate: false, exitStatus: 0)
            } else {
                console.info(String(format: "%d merges, vocabulary %d, from %d documents (%.1f MB, %d distinct pre-tokens, %d pruned) in %.1fs",
                                    m.merges, m.vocabularySize, m.documents, Double(m.textBytes) / 1e6,
                                    m.distinctPreTokens, m.prunedPreTokens, m.timings.seconds))
                console.info("files: " + m.files.map { out + "/" + $0 }.joined(separator: " "))
            }
        } catch {
            ticker.stop()
            console.error("\(error)")
            throw ExitCode(ExitStatus.failure.rawValue)
        }
    }
}

struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Turn document shards into llm.c token shards (with Kiln's index beside each).",
        discussion: """
            Every document becomes <|endoftext|> followed by its tokens (llm.c's
            convention), in input order, into DATA/train_<task>_<n>.bin (and
            val_<task>_<n>.bin with --val-fraction, chosen by a hash of the document
            id). Shards hold exactly --shard-tokens tokens (documents cross their
            boundaries, as in llm.c's fineweb.py); uint16 tokens when the vocabulary
            fits (magic 20240520), uint32 otherwise (magic 20240801). Beside each
            shard, <shard>.idx holds document offsets and the shard's SHA-256; the
            layout is in schemas/token-shards.md. The bytes do not depend on
            --threads.

            EXAMPLES
              prep tokenize out/dedup --tokenizer out/tokenizer --out out/tokens
              prep tokenize out/dedup --tokenizer out/tokenizer --out out/tokens \\
                  --val-fraction 0.01 --shard-tokens 10000000

            \(ExitStatus.helpText)
            """)

    @Argument(help: "Shard files or folders of shards.")
    var inputs: [String]

    @Option(help: "Tokenizer folder (tokenizer.json, vocab.json + merges.txt, or a .tiktoken file).")
    var tokenizer: String

    @Option(name: .long, help: "Output folder for the token shards.")
    var out: String

    @Option(help: "Tokens per shard (default: \(TokenizeOptions.defaults.shardTokens)).")
    var shardTokens: Int?

    @Option(help: "Share of documents in the validation split (default: \(TokenizeOptions.defaults.valFraction)).")
    var valFraction: Double?

    @OptionGroup var run: RunOptions

    mutating func run() async throws {
        var o = TokenizeOptions()
        if let shardTokens { o.shardTokens = shardTokens }
        if let valFraction { o.valFraction = valFraction }
        guard o.shardTokens > 0, (0...1).contains(o.valFraction) else {
            throw ValidationError("--shard-tokens must be positive and --val-fraction in 0...1")
        }
        let tok: Tokenizer
        do { tok = try TokenizerFiles.load(directory: tokenizer) } catch { throw ValidationError("\(tokenizer): \(error)") }
        let layout = run.layout()
        let all: [IngestInput]
        do { all = try Shards.inputs(inputs) } catch { throw ValidationError("\(error)") }
        let mine = Dedup.split(all, taskIndex: layout.taskIndex, taskCount: layout.taskCount).inputs
        let console = Console(quiet: run.quiet, json: run.json, label: "tokenize")
        let progress = IngestProgress()
        let ticker = console.startProgress {
            let s = progress.snapshot()
            return .init(done: s.bytesRead, total: s.totalBytes, items: s.documents, itemName: "docs")
        }
        do {
            let m = try Tokenize.run(inputs: mine, tokenizer: tok, tokenizerDirectory: tokenizer, outDir: out, options: o,
                                     layout: layout, command: CommandLine.arguments, progress: progress)
            ticker.stop()
            let path = out + "/" + IngestManifest.fileName(task: layout.taskIndex, count: layout.taskCount)
            if run.json {
                console.printJSON(summary: m, manifestPath: path, upToDate: false, exitStatus: 0)
            } else {
                for (name, s) in m.splits.sorted(by: { $0.key > $1.key }) where s.documents > 0 {
                    console.info("\(name): \(s.tokens) tokens from \(s.documents) documents in \(s.shards.count) shards")
                }
                console.info("manifest: \(path)")
            }
        } catch {
            ticker.stop()
            console.error("\(error)")
            throw ExitCode(ExitStatus.failure.rawValue)
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
