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
    /// What the inputs hold: Kiln's document shards, or supervised examples in one of the SFT
    /// record shapes (rendered with `template`, with a loss mask in the index).
    public var format = TokenizeFormat.documents
    /// SFT: how examples become text.
    public var template = ChatTemplate.default
    /// SFT: examples longer than this are cut to it (the model's context length).
    public var maxTokens = 1024
    /// SFT: encode text that spells a special token as ordinary text instead of refusing it.
    public var allowSpecialText = false

    public init() {}
    public static let defaults = TokenizeOptions()
}

/// The record shape of `prep tokenize`'s inputs.
public enum TokenizeFormat: String, Codable, Sendable, CaseIterable {
    case documents, chat, alpaca
    case promptCompletion = "prompt-completion"

    public var sft: SFTFormat? {
        switch self {
        case .documents: return nil
        case .chat: return .chat
        case .alpaca: return .alpaca
        case .promptCompletion: return .promptCompletion
        }
    }
}

/// What happened to the supervised examples: the manifest's `sft` section.
public struct SFTReport: Codable, Equatable, Sendable {
    public struct Coverage: Codable, Equatable, Sendable {
        /// Examples with at least this many answers.
        public var examples = 0
        /// This answer kept whole, shortened by the cut, or cut off entirely.
        public var complete = 0
        public var truncated = 0
        public var dropped = 0
    }
    public struct Problem: Codable, Equatable, Sendable {
        public var path: String
        /// Line of a JSONL file, or record number (from 1) of a JSON array.
        public var line: Int
        public var reason: SFTRefusal
        public var message: String
    }
    public var examplesRead = 0
    public var examplesWritten = 0
    public var refused: [String: Int] = [:]
    /// Written examples that were cut at `maxTokens`.
    public var truncated = 0
    public var tokens = 0
    public var trainedTokens = 0
    public var trainedFraction = 0.0
    /// Per answer position (first answer, second, …), over every example that was rendered.
    public var answerCoverage: [Coverage] = []
    /// The first problems, with the file and line of each (all are counted in `refused`).
    public var problems: [Problem] = []
    public static let problemsListed = 100

    mutating func add(_ o: SFTReport) {
        examplesRead += o.examplesRead
        examplesWritten += o.examplesWritten
        for (k, v) in o.refused { refused[k, default: 0] += v }
        truncated += o.truncated
        tokens += o.tokens
        trainedTokens += o.trainedTokens
        while answerCoverage.count < o.answerCoverage.count { answerCoverage.append(Coverage()) }
        for (i, c) in o.answerCoverage.enumerated() {
            answerCoverage[i].examples += c.examples
            answerCoverage[i].complete += c.complete
            answerCoverage[i].truncated += c.truncated
            answerCoverage[i].dropped += c.dropped
        }
        problems += o.problems.prefix(max(0, Self.problemsListed - problems.count))
        trainedFraction = tokens > 0 ? Double(trainedTokens) / Double(tokens) : 0
    }

    mutating func refuse(_ e: SFTError, path: String, line: Int) {
        refused[e.reason.rawValue, default: 0] += 1
        if problems.count < Self.problemsListed {
            problems.append(Problem(path: path, line: line, reason: e.reason, message: e.message))
        }
    }

    /// Records how the cut at `maxTokens` left each answer of a rendered example.
    mutating func cover(_ r: RenderedExample) {
        let end = r.tokens.count
        for (i, a) in r.answers.enumerated() {
            if answerCoverage.count <= i { answerCoverage.append(Coverage()) }
            answerCoverage[i].examples += 1
            if a.upperBound <= end { answerCoverage[i].complete += 1 }
            else if a.lowerBound < end { answerCoverage[i].truncated += 1 }
            else { answerCoverage[i].dropped += 1 }
        }
    }
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
    /// Supervised examples: what was written, refused and cut (nil for documents).
    public var sft: SFTReport?
    /// The command line that made the dataset.
    public var command: [String]
    public var timings: IngestManifest.Timings


}

public enum Tokenize {
    /// Bytes of records per batch handed to an encoding thread: small enough that the threads
    /// start at once and finish together, large enough that handing over costs nothing.
    static let batchBytes = 1 << 17

    /// True when the document goes to the validation split: the first 64 bits of SHA-256 of its
    /// id, as a fraction of 2^64, below `fraction`.
    public static func isValidation(id: String, fraction: Double) -> Bool {
        guard fraction > 0 else { return false }
        let d = SHA256.hash(data: Array(id.utf8))
        let v = d.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(v) / 18_446_744_073_709_551_616.0 < fraction
    }

    /// Loads the tokenizer in `directory` for a run on `threads` threads. With a core to spare, the
    /// pre-tokenizer's Unicode tables are built beside the vocabulary, and the fingerprint (which
    /// only the manifest needs) beside the first batches, instead of one after the other.
    public static func loadTokenizer(directory: String, threads: Int) throws(TokenizerFileError) -> Tokenizer {
        guard threads > 1 else { return try TokenizerFiles.load(directory: directory) }
        Thread { PreTokenizer.prepareTables() }.start()
        let tokenizer = try TokenizerFiles.load(directory: directory)
        Thread { _ = tokenizer.fingerprint }.start()
        return tokenizer
    }

    /// Tokenizes the shards `inputs` (this task's share) into `outDir`: documents, or
    /// supervised examples with their loss masks when `options.format` is an SFT format.
    /// A rerun whose manifest is complete, with the same inputs, tokenizer and options, does
    /// nothing unless `force`.
    public static func run(inputs: [IngestInput], tokenizer: Tokenizer, tokenizerDirectory: String, outDir: String,
                           options: TokenizeOptions, layout: RunLayout, command: [String], force: Bool = false,
                           progress: IngestProgress = IngestProgress()) throws -> TokenizeResult {
        let started = Date()
        guard let eot = tokenizer.specialTokens[options.endOfText] else {
            throw IngestError.output("the tokenizer in \(tokenizerDirectory) has no special token \(options.endOfText)")
        }
        let renderer: ChatRenderer? = try options.format.sft.map { _ in
            try ChatRenderer(template: options.template, tokenizer: tokenizer, endOfText: eot,
                             allowSpecialText: options.allowSpecialText)
        }
        try StageFolder.prepare(outDir)
        let manifestName = IngestManifest.fileName(task: layout.taskIndex, count: layout.taskCount)
        let manifestPath = outDir + "/" + manifestName
        if !force, let old = try? TokenizeManifest.read(manifestPath),
           isUpToDate(old, inputs: inputs, tokenizer: tokenizer, outDir: outDir, options: options, layout: layout) {
            return TokenizeResult(manifest: old, manifestPath: manifestPath, upToDate: true)
        }
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
                             shardTokens: options.shardTokens, withMask: renderer != nil)
        }
        var splits = ["train": TokenizeManifest.Split(), "val": TokenizeManifest.Split()]
        progress.start(totalBytes: inputs.reduce(0) { $0 + $1.size }, inputs: inputs.count)
        // One thread reads the inputs in order and cuts them into batches of records (128 KB);
        // `threads` threads parse and encode the batches; the encoded batches are written in
        // order. A few batches per thread are in flight at most, so memory does not grow with the
        // input.
        var records = Array(repeating: 0, count: inputs.count)
        var errors = Array(repeating: 0, count: inputs.count)
        var digests = Array(repeating: "", count: inputs.count)
        var reports: [SFTReport]? = renderer == nil ? nil : Array(repeating: SFTReport(), count: inputs.count)
        func write(_ tokens: [UInt32], mask: [Bool]?, key: String) throws {
            let val = isValidation(id: key, fraction: options.valFraction)
            try writers[val ? 1 : 0].append(tokens, mask: mask)
            splits[val ? "val" : "train", default: .init()].documents += 1
            splits[val ? "val" : "train", default: .init()].tokens += tokens.count
            progress.addDocument()
        }
        /// A batch of one input's documents or examples; the input's last batch carries its SHA-256,
        /// taken as it was read.
        struct Batch<Record> { var input: Int; var records: [Record]; var digest: String? }
        struct Encoded<Outcome> { var input: Int; var outcomes: [Outcome]; var digest: String? }
        func run<Record, Outcome>(read: (Int, (Record, Int) throws -> Void) throws -> String,
                                  encode: @escaping (Record) -> Outcome,
                                  consume: @escaping (Int, Outcome) throws -> Void) throws {
            try OrderedPipeline.run(threads: layout.threads, window: 4 * layout.threads, produce: { submit in
                for k in inputs.indices {
                    var batch: [Record] = []
                    var bytes = 0
                    let digest = try read(k) { record, size in
                        batch.append(record)
                        bytes += size
                        if bytes >= Tokenize.batchBytes {
                            try submit(Batch(input: k, records: batch, digest: nil))
                            batch = []
                            bytes = 0
                        }
                    }
                    try submit(Batch(input: k, records: batch, digest: digest))
                }
            }, transform: { (b: Batch<Record>) in
                Encoded(input: b.input, outcomes: b.records.map(encode), digest: b.digest)
            }, consume: { (e: Encoded<Outcome>) in
                for o in e.outcomes { try consume(e.input, o) }
                if let digest = e.digest {
                    digests[e.input] = digest
                    progress.finish(e.input, size: inputs[e.input].size)
                }
            })
        }
        do {
            if let renderer, let format = options.format.sft {
                typealias Record = (record: Result<JSONValue, SFTError>, line: Int, key: String)
                typealias Outcome = (result: Result<RenderedExample, Error>, line: Int, key: String)
                try run(read: { (k: Int, emit: (Record, Int) throws -> Void) in
                    try forEachRecord(in: inputs[k].path, expectedSize: inputs[k].size) { record, line, key in
                        records[k] += 1
                        try emit((record, line, key), key.utf8.count + 64)
                    }
                }, encode: { (r: Record) -> Outcome in
                    let rendered = Result<RenderedExample, Error> {
                        try renderer.render(try SupervisedExamples.turns(try r.record.get(), format: format),
                                            maxTokens: options.maxTokens)
                    }
                    return (rendered, r.line, r.key)
                }, consume: { (k: Int, o: Outcome) in
                    reports![k].examplesRead += 1
                    do {
                        let r = try o.result.get()
                        reports![k].cover(r)
                        if r.trainedTokens == 0 {
                            throw SFTError(reason: .nothingTrained,
                                           message: "no trained token is left after the cut to \(options.maxTokens) tokens")
                        }
                        reports![k].examplesWritten += 1
                        reports![k].truncated += r.truncated ? 1 : 0
                        reports![k].tokens += r.tokens.count
                        reports![k].trainedTokens += r.trainedTokens
                        try write(r.tokens, mask: r.mask, key: o.key)
                    } catch let e as SFTError {
                        errors[k] += 1
                        reports![k].refuse(e, path: inputs[k].path, line: o.line)
                    }
                })
            } else {
                let eot = UInt32(eot)
                // The reading thread only cuts lines; the encoding threads parse them too.
                try run(read: { (k: Int, emit: ([UInt8], Int) throws -> Void) in
                    try Shards.forEachLine(in: inputs[k].path, expectedSize: inputs[k].size) { line, _ in
                        try emit(line, line.count)
                    }
                }, encode: { (line: [UInt8]) -> (tokens: [UInt32], id: String)? in
                    guard let d = try? Document.parse(line) else { return nil }
                    var t: [UInt32] = [eot]
                    t.append(contentsOf: tokenizer.encodeOrdinary(d.text).lazy.map { UInt32($0) })
                    return (t, d.id)
                }, consume: { (k: Int, o: (tokens: [UInt32], id: String)?) in
                    guard let o else {
                        errors[k] += 1
                        return
                    }
                    records[k] += 1
                    try write(o.tokens, mask: nil, key: o.id)
                })
            }
            splits["train"]!.shards = try writers[0].finish()
            splits["val"]!.shards = try writers[1].finish()
        } catch {
            for w in writers { w.discard() }
            throw error
        }
        var sft: SFTReport? = renderer == nil ? nil : SFTReport()
        for r in reports ?? [] { sft!.add(r) }
        let bytes = inputs.reduce(Int64(0)) { $0 + $1.size }
        let manifest = TokenizeManifest(
            task: .init(index: layout.taskIndex, count: layout.taskCount), threads: layout.threads, options: options,
            tokenizer: .init(fingerprint: tokenizer.fingerprint, vocabularySize: tokenizer.vocabularySize, endOfText: eot,
                             pattern: "\(tokenizer.pattern)", directory: tokenizerDirectory),
            tokenWidth: width == .uint16 ? "uint16" : "uint32",
            inputs: inputs.indices.map { k in
                InputRecord(path: inputs[k].path, size: inputs[k].size, mtimeNs: inputs[k].mtimeNs, sha256: digests[k],
                            documents: records[k], errors: errors[k])
            },
            splits: splits, sft: sft, command: command,
            timings: .since(started, bytes: bytes))
        try manifest.write(to: manifestPath)
        return TokenizeResult(manifest: manifest, manifestPath: manifestPath, upToDate: false)
    }

    static func isUpToDate(_ m: TokenizeManifest, inputs: [IngestInput], tokenizer: Tokenizer, outDir: String,
                           options: TokenizeOptions, layout: RunLayout) -> Bool {
        guard m.complete, m.kilnVersion == Kiln.version, m.options == options,
              m.tokenizer.fingerprint == tokenizer.fingerprint,
              m.task == .init(index: layout.taskIndex, count: layout.taskCount),
              m.inputs.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] }) == inputs.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] })
        else { return false }
        return m.splits.values.flatMap(\.shards).allSatisfy { s in
            var st = stat()
            return stat(outDir + "/" + s.path, &st) == 0 && Int64(st.st_size) == s.bytes
                && stat(outDir + "/" + s.index, &st) == 0
        }
    }

    /// Calls `body` with each record of an SFT file, its line (JSONL) or record number (a JSON
    /// array, as Alpaca-style files often are), and a key for the validation split (its `id`
    /// field, else its text). A record that is not JSON comes as a failure, and reading goes on.
    /// Returns the file's SHA-256 (hex), taken in the same pass.
    @discardableResult
    static func forEachRecord(in path: String, expectedSize: Int64? = nil,
                              _ body: (Result<JSONValue, SFTError>, Int, String) throws -> Void) throws -> String {
        func key(_ r: JSONValue) -> String {
            if let id = r["id"]?.stringValue { return id }
            var w = JSONWriter()
            w.write(r)
            return String(decoding: w.bytes, as: UTF8.self)
        }
        let file = try Shards.HashedLines(path: path, expectedSize: expectedSize)
        let reader = file.lines
        let head = try reader.peek(4096)
        if head.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }) == UInt8(ascii: "[") {
            var bytes: [UInt8] = []
            while true {
                let chunk = try reader.read(upTo: 1 << 20)
                bytes += chunk
                if chunk.count < 1 << 20 { break }
            }
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            let array: JSONValue
            do { array = try JSONParser.parse(bytes) } catch {
                try body(.failure(SFTError(reason: .invalidJSON, message: "not a JSON array of examples: \(error)")), 1, "")
                return try file.digest()
            }
            guard case let .array(records) = array else { return try file.digest() }
            for (i, r) in records.enumerated() {
                try body(.success(r), i + 1, key(r))
            }
            return try file.digest()
        }
        var n = 0
        while let line = try reader.readLine(maxLength: Int.max) {
            n += 1
            guard case let .line(bytes) = line, !bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) else { continue }
            do {
                let r = try JSONParser.parse(bytes)
                try body(.success(r), n, key(r))
            } catch let e as JSONParseError {
                try body(.failure(SFTError(reason: .invalidJSON, message: "\(e)")), n, "")
            }
        }
        return try file.digest()
    }
}

public struct TokenizeResult: Sendable {
    public var manifest: TokenizeManifest
    public var manifestPath: String
    public var upToDate: Bool
}
