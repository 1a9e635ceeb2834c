import ArchiveIO
import Foundation
import Tokenization

public struct TrainTokenizerOptions: Codable, Equatable, Sendable {
    public var trainer = BPETrainerOptions()
    public var pattern = PreTokenizerPattern.gpt2
    /// Memory for the pre-token table; past it the rarest pre-tokens are pruned (and counted in
    /// the manifest).
    public var memoryBudget: Int64 = 2 << 30

    public init() {}
    public static let defaults = TrainTokenizerOptions()
}

public struct TrainTokenizerManifest: StageManifest {
    public var kilnVersion = Kiln.version
    public var stage = "train-tokenizer"
    public var complete = true
    public var options: TrainTokenizerOptions
    public var inputs: [InputRecord]
    public var documents: Int
    public var textBytes: Int64
    public var distinctPreTokens: Int
    /// Distinct pre-tokens dropped to stay within the memory budget, and the highest count of a
    /// dropped one.
    public var prunedPreTokens: Int
    public var prunedMaxCount: UInt64
    public var merges: Int
    public var vocabularySize: Int
    public var fingerprint: String
    public var files: [String]
    public var timings: IngestManifest.Timings

}

public enum TrainTokenizer {
    /// Bytes a pre-token table entry costs, roughly (key array, count, hash table slot).
    static let bytesPerEntry = 96

    /// Counts pre-tokens over the shards, learns the merges and writes every tokenizer format
    /// into `outDir`. A rerun whose manifest is complete, for the same inputs and options, does
    /// nothing unless `force` (`upToDate` in the result says so).
    public static func run(inputs: [IngestInput], outDir: String, options: TrainTokenizerOptions, threads: Int,
                           force: Bool = false,
                           progress: IngestProgress = IngestProgress()) throws -> (manifest: TrainTokenizerManifest, upToDate: Bool) {
        let started = Date()
        try StageFolder.prepare(outDir)
        let manifestPath = outDir + "/manifest.json"
        if !force, let old = try? TrainTokenizerManifest.read(manifestPath), old.complete, old.kilnVersion == Kiln.version,
           old.options == options,
           old.inputs.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] }) == inputs.map({ [$0.path, "\($0.size)", "\($0.mtimeNs)"] }),
           old.files.allSatisfy({ FileManager.default.fileExists(atPath: outDir + "/" + $0) }) {
            return (old, true)
        }
        try removeStaleFiles(outDir)
        let pre = PreTokenizer(options.pattern)
        var table: [[UInt8]: UInt64] = [:]
        var documents = 0
        var textBytes: Int64 = 0
        var pruned = 0
        var prunedMax: UInt64 = 0
        let budgetEntries = max(1024, Int(options.memoryBudget) / bytesPerEntry)
        let commit = OrderedCommit()
        progress.start(totalBytes: inputs.reduce(0) { $0 + $1.size }, inputs: inputs.count)
        // Each thread counts one shard; the counts are merged in input order, and pruning happens
        // only between merges, so the result does not depend on the thread count.
        let perInput = try OrderedWorkers.run(count: inputs.count, threads: threads, outputs: []) { k, _ -> (digest: String, documents: Int, errors: Int) in
            var local: [[UInt8]: UInt64] = [:]
            var docs = 0
            var bytes: Int64 = 0
            var ranges: [Range<Int>] = []
            var errors = 0
            let digest: String
            do {
                digest = try Shards.forEachDocument(in: inputs[k].path, expectedSize: inputs[k].size,
                                                    onInvalidLine: { _ in errors += 1 }) { doc, _ in
                    docs += 1
                    var text = doc.text
                    bytes += Int64(text.utf8.count)
                    text.withUTF8 { b in
                        ranges.removeAll(keepingCapacity: true)
                        pre.split(b, into: &ranges)
                        for r in ranges { local[Array(b[r]), default: 0] += 1 }
                    }
                }
            } catch {
                commit.fail(error)
                throw error
            }
            try commit.inTurn(k) {
                documents += docs
                textBytes += bytes
                for (key, n) in local { table[key, default: 0] += n }
                var floor: UInt64 = 1
                while table.count > budgetEntries {
                    let before = table.count
                    table = table.filter { $0.value > floor || { prunedMax = max(prunedMax, $0.value); return false }($0) }
                    pruned += before - table.count
                    floor += 1
                }
            }
            progress.finish(k, size: inputs[k].size)
            return (digest, docs, errors)
        }
        let merges = BPETrainer.train(counts: table, options: options.trainer)
        let vocabulary = BPETrainer.tokens(merges: merges)
        var specials: [String: Int] = [:]
        for (k, s) in options.trainer.specialTokens.enumerated() { specials[s] = vocabulary.count + k }
        let tokenizer = try Tokenizer(vocabulary: vocabulary, specialTokens: specials, pattern: options.pattern)
        let files = try writeFiles(tokenizer, to: outDir)
        let manifest = TrainTokenizerManifest(
            options: options,
            inputs: zip(inputs, perInput).map {
                InputRecord(path: $0.path, size: $0.size, mtimeNs: $0.mtimeNs, sha256: $1.digest, documents: $1.documents, errors: $1.errors)
            },
            documents: documents, textBytes: textBytes, distinctPreTokens: table.count + pruned,
            prunedPreTokens: pruned, prunedMaxCount: prunedMax, merges: merges.count,
            vocabularySize: tokenizer.vocabularySize, fingerprint: tokenizer.fingerprint, files: files,
            timings: .since(started, bytes: textBytes))
        try manifest.write(to: manifestPath)
        return (manifest, false)
    }

    /// The files `writeFiles` writes, in the order it writes them.
    static let fileNames = ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer.tiktoken", "gpt2_tokenizer.bin", "vocab.txt"]

    /// Removes the manifest first (so that it never describes files of another run), then the
    /// tokenizer files and any temporary file a killed run left (`.NAME.tmp-PID`).
    static func removeStaleFiles(_ dir: String) throws {
        unlink(dir + "/manifest.json")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        for name in names where fileNames.contains(name)
            || (["manifest.json"] + fileNames).contains(where: { name.hasPrefix("." + $0 + ".tmp-") }) {
            if unlink(dir + "/" + name) != 0 && errno != ENOENT {
                throw IngestError.output("\(dir)/\(name): cannot remove a stale output")
            }
        }
    }

    /// Every format: HF tokenizer.json, GPT-2 vocab.json + merges.txt, tiktoken ranks, llm.c's
    /// decoder table, and vocab.txt for people (id, then the token's bytes as escaped text).
    static func writeFiles(_ t: Tokenizer, to dir: String) throws -> [String] {
        try TokenizerFiles.writeHuggingFace(t, to: dir + "/tokenizer.json")
        try TokenizerFiles.writeVocabMerges(t, vocab: dir + "/vocab.json", merges: dir + "/merges.txt")
        try TokenizerFiles.writeTiktoken(t, to: dir + "/tokenizer.tiktoken")
        try TokenizerFiles.writeLlmc(t, to: dir + "/gpt2_tokenizer.bin")
        var listing = ""
        let specials = Dictionary(uniqueKeysWithValues: t.specialTokens.map { ($1, $0) })
        for id in 0..<t.vocabularySize {
            if let s = specials[id] {
                listing += "\(id)\t\(s)\t(special)\n"
            } else if let b = t.bytes(forToken: id) {
                var w = JSONWriter()
                w.writeString(TextDecoding.lossyUTF8(b[...]).0)
                listing += "\(id)\t\(String(decoding: w.bytes, as: UTF8.self))\t\(b.count) bytes\n"
            }
        }
        try AtomicFileWriter.write(Array(listing.utf8), to: dir + "/vocab.txt")
        return fileNames
    }
}
