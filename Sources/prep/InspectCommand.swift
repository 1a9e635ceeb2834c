import ArgumentParser
import DataPrep
import Foundation
import ShardFormat
import Tokenization

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Print what a Kiln file holds: document shard, token shard, tokenizer, manifest.",
        discussion: """
            Recognises the file by its content: a token shard (llm.c header; its
            .idx beside it is read too), a document shard (.jsonl, .jsonl.zst,
            .jsonl.gz), a tokenizer folder or file, or a manifest.

            EXAMPLES
              prep inspect out/tokens/train_00000_000000.bin
              prep inspect out/docs/docs-00000-00000.jsonl.zst --limit 3
              prep inspect out/tokenizer
              prep inspect out/clean/manifest.json

            \(ExitStatus.helpText)
            """)

    @Argument(help: "A file or a tokenizer folder.")
    var path: String

    @Option(help: "Documents or tokens to show (default: 5).")
    var limit = 5

    @Option(help: "A tokenizer folder, to show token shards as text.")
    var tokenizer: String?

    mutating func run() async throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ValidationError("\(path): no such file or folder")
        }
        if isDir.boolValue || path.hasSuffix("tokenizer.json") || path.hasSuffix(".tiktoken") {
            let dir = isDir.boolValue ? path : (path as NSString).deletingLastPathComponent
            let t: Tokenizer
            do { t = try TokenizerFiles.load(directory: dir) } catch { throw ValidationError("\(error)") }
            print("tokenizer \(dir): pattern \(t.pattern), vocabulary \(t.vocabularySize), fingerprint \(t.fingerprint)")
            print("special tokens: " + t.specialTokens.sorted { $0.value < $1.value }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            return
        }
        let bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
        if bytes.count >= 4, bytes.withUnsafeBytes({ $0.loadUnaligned(as: Int32.self) }).littleEndian == TokenShard.magic16
            || bytes.count >= 4 && bytes.withUnsafeBytes({ $0.loadUnaligned(as: Int32.self) }).littleEndian == TokenShard.magic32 {
            try inspectTokenShard(bytes)
            return
        }
        if path.hasSuffix(".json"), let v = try? JSONParser.parse(bytes) {
            print("manifest \(path): stage \(v["stage"]?.stringValue ?? "?"), complete: \(v["complete"] == .bool(true) ? "yes" : "no")")
            for key in ["counts", "splits", "removed", "clusters"] {
                if let c = v[key] {
                    var w = JSONWriter()
                    w.write(c)
                    print("\(key): \(String(decoding: w.bytes, as: UTF8.self))")
                }
            }
            return
        }
        var shown = 0
        var count = 0
        do {
            try Shards.forEachDocument(in: path, onInvalidLine: { e in print("invalid: \(e)") }) { doc, line in
                count += 1
                if shown < limit {
                    shown += 1
                    let preview = doc.text.prefix(160).replacingOccurrences(of: "\n", with: "⏎")
                    print("[\(line)] id \(doc.id)  source \(doc.source.input)\(doc.source.member.map { " [\($0)]" } ?? "")  \(doc.text.utf8.count) bytes")
                    print("    \(preview)")
                }
            }
        } catch {
            throw ValidationError("\(path): \(error)")
        }
        print("\(count) documents")
    }

    func inspectTokenShard(_ bytes: [UInt8]) throws {
        let (tokens, width) = try TokenShard.decode(bytes, path: path)
        print("token shard \(path): \(tokens.count) tokens, \(width == .uint16 ? "uint16" : "uint32")")
        var mask: [Bool]? = nil
        if let idxData = FileManager.default.contents(atPath: path + ".idx") {
            let idx = try TokenIndex.decode([UInt8](idxData), path: path + ".idx")
            let ok = idx.shardSHA256 == TokenIndex.sha256(bytes)
            print("index: \(idx.documents) documents start here; SHA-256 \(ok ? "matches" : "DOES NOT MATCH")"
                  + (idx.mask.map { m in ", loss mask: \(m.filter { $0 }.count) of \(m.count) tokens trained" } ?? ""))
            mask = idx.mask
        }
        let head = Array(tokens.prefix(limit * 20)).map(Int.init)
        // With a loss mask, trained tokens are marked: `*` after the id, ⟦…⟧ around the text.
        print("first tokens: " + head.enumerated().map { k, t in "\(t)" + (mask?[k] == true ? "*" : "") }.joined(separator: " "))
        if let tokenizer {
            let t = try TokenizerFiles.load(directory: tokenizer)
            var text = ""
            var k = 0
            while k < head.count {
                let trained = mask?[k] ?? false
                var end = k
                while end < head.count && (mask?[end] ?? false) == trained { end += 1 }
                let piece = String(decoding: try t.decode(Array(head[k..<end])), as: UTF8.self)
                text += mask == nil ? piece : trained ? "⟦" + piece + "⟧" : piece
                k = end
            }
            print("as text" + (mask == nil ? "" : " (⟦trained⟧)") + ": " + text.replacingOccurrences(of: "\n", with: "⏎"))
        }
    }
}
