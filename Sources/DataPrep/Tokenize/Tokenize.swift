import ArchiveIO
import Crypto
import Foundation
import ShardFormat
import Tokenization

/// Everything that decides what `prep tokenize` writes.
public struct TokenizeOptions: Codable, Equatable, Sendable {
    /// Tokens per shard; documents cross shard boundaries, as in llm.c's fineweb.py.
    public var shardTokens = 100_000_000
    /// Share of documents in the validation split, chosen by a hash of the document id so that
    /// a document's split never changes.
    public var valFraction = 0.0
    /// The token that starts every document (llm.c prepends it).
    public var endOfText = "<|endoftext|>"

    public init() {}
    public static let defaults = TokenizeOptions()
}

public struct TokenizeManifest: StageManifest {
    public struct TokenizerInfo: Codable, Equatable, Sendable {
        public var fingerprint: String
        public var vocabularySize: Int
        public var endOfText: Int
        public var pattern: String
        public var directory: String
    }
    public struct Split: Codable, Equatable, Sendable {
        public var documents = 0
        public var tokens = 0
        public var shards: [TokenShardRecord] = []
    }

    public var kilnVersion = Kiln.version
    public var stage = "tokenize"
    public var complete = true
    public var task: IngestManifest.Task
    public var threads: Int
    public var options: TokenizeOptions
    public var tokenizer: TokenizerInfo
    /// "uint16" or "uint32" tokens in the shards.
    public var tokenWidth: String
    public var inputs: [InputRecord]
    public var splits: [String: Split]
    /// The command line that made the dataset.
    public var command: [String]
    public var timings: IngestManifest.Timings


}

public enum Tokenize {
    /// True when the document goes to the validation split: the first 64 bits of SHA-256 of its
    /// id, as a fraction of 2^64, below `fraction`.
    public static func isValidation(id: String, fraction: Double) -> Bool {
        guard fraction > 0 else { return false }
        let d = SHA256.hash(data: Array(id.utf8))
        let v = d.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(v) / 18_446_744_073_709_551_616.0 < fraction
    }

    /// Tokenizes the document shards `inputs` (this task's share) into `outDir`.
    public static func run(inputs: [IngestInput], tokenizer: Tokenizer, tokenizerDirectory: String, outDir: String,
                           options: TokenizeOptions, layout: RunLayout, command: [String],
                           progress: IngestProgress = IngestProgress()) throws -> TokenizeManifest {
        let started = Date()
        guard let eot = tokenizer.specialTokens[options.endOfText] else {
            throw IngestError.output("the tokenizer in \(tokenizerDirectory) has no special token \(options.endOfText)")
        }
        try StageFolder.prepare(outDir)
        let manifestName = IngestManifest.fileName(task: layout.taskIndex, count: layout.taskCount)
        for split in ["train", "val"] {
            try StageFolder.removeStale(outDir, manifestName: manifestName, prefix: split, task: layout.taskIndex)
            // Shards are named <split>_<task>_<n>.bin: remove this task's.
            let mine = String(format: "%@_%05d_", split, layout.taskIndex)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: outDir)) ?? []
            where name.hasPrefix(mine) || (name.hasPrefix("." + mine) && name.contains(".tmp-")) {
                unlink(outDir + "/" + name)
            }
        }
        let width = TokenShard.Width.forVocabulary(tokenizer.vocabularySize)
        let writers = ["train", "val"].map {
            TokenShardWriter(directory: outDir, split: $0, task: layout.taskIndex, width: width,
                             shardTokens: options.shardTokens, withMask: false)
        }
        var splits = ["train": TokenizeManifest.Split(), "val": TokenizeManifest.Split()]
        let commit = OrderedCommit()
        let lock = NSLock()
        progress.start(totalBytes: inputs.reduce(0) { $0 + $1.size }, inputs: inputs.count)
        // Every thread tokenizes a shard of documents; the shards are written in input order.
        let digests = try OrderedWorkers.run(count: inputs.count, threads: layout.threads, outputs: []) { k, _ -> String in
            var docs: [(val: Bool, tokens: [UInt32])] = []
            do {
                try Shards.forEachDocument(in: inputs[k].path, onInvalidLine: { _ in }) { doc, _ in
                    var t: [UInt32] = [UInt32(eot)]
                    t.append(contentsOf: tokenizer.encodeOrdinary(doc.text).lazy.map { UInt32($0) })
                    docs.append((isValidation(id: doc.id, fraction: options.valFraction), t))
                }
            } catch {
                commit.fail(error)
                throw error
            }
            try commit.inTurn(k) {
                for d in docs {
                    try writers[d.val ? 1 : 0].append(d.tokens)
                    lock.lock()
                    splits[d.val ? "val" : "train", default: .init()].documents += 1
                    splits[d.val ? "val" : "train", default: .init()].tokens += d.tokens.count
                    lock.unlock()
                    progress.addDocument()
                }
            }
            progress.finish(k, size: inputs[k].size)
            return try sha256(ofFile: inputs[k].path)
        }
        splits["train"]!.shards = try writers[0].finish()
        splits["val"]!.shards = try writers[1].finish()
        let bytes = inputs.reduce(Int64(0)) { $0 + $1.size }
        let manifest = TokenizeManifest(
            task: .init(index: layout.taskIndex, count: layout.taskCount), threads: layout.threads, options: options,
            tokenizer: .init(fingerprint: tokenizer.fingerprint, vocabularySize: tokenizer.vocabularySize, endOfText: eot,
                             pattern: "\(tokenizer.pattern)", directory: tokenizerDirectory),
            tokenWidth: width == .uint16 ? "uint16" : "uint32",
            inputs: zip(inputs, digests).map { InputRecord(path: $0.path, size: $0.size, mtimeNs: $0.mtimeNs, sha256: $1, documents: 0, errors: 0) },
            splits: splits, command: command,
            timings: .since(started, bytes: bytes))
        try manifest.write(to: outDir + "/" + manifestName)
        return manifest
    }
}
