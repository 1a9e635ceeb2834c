import DataPrep
import Foundation
import ShardFormat
import Testing
import TestSupport
import Tokenization

@Suite struct TokenizeCLITests {
    @Test func trainTokenizeAndReadBack() throws {
        let dir = Fixtures.tempDir("tok")
        #expect(try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/docs", "--quiet"]).status == 3)
        let train = try Fixtures.prep(["train-tokenizer", dir + "/docs", "--vocab-size", "1024", "--out", dir + "/tok", "--json"])
        #expect(train.status == 0, "\(train.stderr)")
        for f in ["tokenizer.json", "vocab.json", "merges.txt", "tokenizer.tiktoken", "gpt2_tokenizer.bin", "vocab.txt", "manifest.json"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/tok/" + f), "\(f)")
        }
        // The same merges on one thread and on two.
        #expect(try Fixtures.prep(["train-tokenizer", dir + "/docs", "--vocab-size", "1024", "--out", dir + "/tok1", "--threads", "1", "--quiet"]).status == 0)
        #expect(Fixtures.read(dir + "/tok/merges.txt") == Fixtures.read(dir + "/tok1/merges.txt"))
        let tok = try TokenizerFiles.load(directory: dir + "/tok")
        #expect(tok.vocabularySize == 1024)

        let r = try Fixtures.prep(["tokenize", dir + "/docs", "--tokenizer", dir + "/tok", "--out", dir + "/tokens",
                                   "--val-fraction", "0.1", "--shard-tokens", "200000", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let m = try TokenizeManifest.read(dir + "/tokens/manifest.json")
        #expect(m.tokenizer.fingerprint == tok.fingerprint)
        #expect(m.splits["train"]!.documents + m.splits["val"]!.documents == 492)
        #expect(m.splits["val"]!.documents > 20 && m.splits["val"]!.documents < 80)

        // Shards pass llm.c's header rules; decoding each document gives its text back.
        let docs = try Fixtures.documents(in: dir + "/docs")
        var stream: [UInt32] = []
        for s in m.splits["train"]!.shards {
            let bytes = Fixtures.read(dir + "/tokens/" + s.path)
            let (tokens, width) = try TokenShard.decode(bytes, path: s.path)
            #expect(width == .uint16)
            #expect(tokens.count == s.tokens)
            let index = try TokenIndex.decode(Fixtures.read(dir + "/tokens/" + s.index), path: s.index)
            #expect(index.shardSHA256 == TokenIndex.sha256(bytes))
            #expect(index.offsets.dropLast().allSatisfy { tokens[Int($0)] == UInt32(m.tokenizer.endOfText) })
            stream += tokens
        }
        #expect(m.splits["train"]!.shards.dropLast().allSatisfy { $0.tokens == 200_000 })
        let eot = UInt32(m.tokenizer.endOfText)
        var texts: [String] = []
        var current: [Int] = []
        for t in stream {
            if t == eot {
                if !current.isEmpty || !texts.isEmpty { texts.append(String(decoding: try tok.decode(current), as: UTF8.self)) }
                current = []
            } else {
                current.append(Int(t))
            }
        }
        texts.append(String(decoding: try tok.decode(current), as: UTF8.self))
        let trainDocs = docs.filter { !Tokenize.isValidation(id: $0.id, fraction: 0.1) }
        #expect(texts == trainDocs.map(\.text))

        // Thread count does not change the bytes.
        #expect(try Fixtures.prep(["tokenize", dir + "/docs", "--tokenizer", dir + "/tok", "--out", dir + "/tokens1",
                                   "--val-fraction", "0.1", "--shard-tokens", "200000", "--threads", "1", "--quiet"]).status == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/tokens").filter { $0.hasSuffix(".bin") || $0.hasSuffix(".idx") }
        #expect(names.count >= 4)
        for n in names { #expect(Fixtures.read(dir + "/tokens/" + n) == Fixtures.read(dir + "/tokens1/" + n), "\(n)") }

        // prep inspect reads a token shard with its index, a tokenizer and a document shard.
        let shard = dir + "/tokens/" + m.splits["train"]!.shards[0].path
        let inspect = try Fixtures.prep(["inspect", shard, "--tokenizer", dir + "/tok"])
        #expect(inspect.status == 0)
        #expect(inspect.stdout.contains("200000 tokens, uint16"))
        #expect(inspect.stdout.contains("SHA-256 matches"))
        #expect(inspect.stdout.contains("<|endoftext|>"))
        #expect(try Fixtures.prep(["inspect", dir + "/tok"]).stdout.contains("vocabulary 1024"))
        #expect(try Fixtures.prep(["inspect", Fixtures.shardFiles(dir + "/docs")[0]]).stdout.contains("492 documents"))

        // encode and decode on the command line.
        let e = try Fixtures.prep(["encode", "--tokenizer", dir + "/tok", "--json", "Hello world, 你好世界 <|endoftext|>"])
        let ids = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [Int]
        #expect(ids != nil && !(ids!.contains(m.tokenizer.endOfText)))
        let d = try Fixtures.prep(["decode", "--tokenizer", dir + "/tok"] + ids!.map(String.init))
        #expect(d.stdout == "Hello world, 你好世界 <|endoftext|>\n")

        // Our trained tokenizer loads in tiktoken and HF tokenizers and encodes the same there.
        if let python = Fixtures.venvPython {
            let text = dir + "/sample.txt"
            Fixtures.write(docs.prefix(60).map(\.text).joined(separator: "\n\n"), to: text)
            let ref = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/tokenizer-reference.py", "encode", dir + "/tok", text])
            #expect(ref.status == 0, "\(ref.stderr)")
            let v = try JSONSerialization.jsonObject(with: Data(ref.stdout.utf8)) as? [String: Any]
            let mine = tok.encodeOrdinary(String(decoding: Fixtures.read(text), as: UTF8.self))
            #expect((v?["tiktoken"] as? [[Int]])?.first == mine)
            #expect((v?["hf"] as? [[Int]])?.first == mine)
        }
    }
}
