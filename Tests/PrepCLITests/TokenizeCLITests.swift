@testable import DataPrep
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
        #expect(m.splits["train"]!.documents + m.splits["val"]!.documents == 491)
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
            // Full shards are hashed as written, the last (short) one from the file: both must be the bytes'.
            #expect(index.shardSHA256 == TokenIndex.sha256(bytes))
            #expect(s.sha256 == TokenIndex.sha256(bytes).map { String(format: "%02x", $0) }.joined())
            #expect(index.offsets.dropLast().allSatisfy { tokens[Int($0)] == UInt32(m.tokenizer.endOfText) })
            stream += tokens
        }
        #expect(m.splits["train"]!.shards.count > 1)
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
        #expect(try Fixtures.prep(["inspect", Fixtures.shardFiles(dir + "/docs")[0]]).stdout.contains("491 documents"))

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
    /// A tokenizer trained on the samples, shared by the tests below.
    static func sampleTokenizer(_ dir: String) throws -> String {
        #expect(try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/docs", "--quiet"]).status == 3)
        #expect(try Fixtures.prep(["train-tokenizer", dir + "/docs", "--vocab-size", "1024", "--out", dir + "/tok", "--quiet"]).status == 0)
        return dir + "/tok"
    }

    @Test func sftChatExamplesWithLossMasks() throws {
        let dir = Fixtures.tempDir("sft")
        let tokDir = try Self.sampleTokenizer(dir)
        let tok = try TokenizerFiles.load(directory: tokDir)
        var lines: [String] = []
        func chat(_ pairs: [(String, String)], system: String? = nil) -> String {
            var m: [[String: String]] = system.map { [["role": "system", "content": $0]] } ?? []
            for (q, a) in pairs { m += [["role": "user", "content": q], ["role": "assistant", "content": a]] }
            return String(decoding: try! JSONSerialization.data(withJSONObject: ["messages": m], options: [.sortedKeys]), as: UTF8.self)
        }
        for k in 0..<20 {
            lines.append(k % 2 == 0 ? chat([("What is \(k) + \(k)?", "It is \(2 * k).")], system: "Answer briefly.")
                                    : chat([("你好，第\(k)个问题", "好的，这是第\(k)个回答。"), ("Thanks!", "You're welcome.")]))
        }
        lines.insert("{not json", at: 3)                                                        // line 4
        lines.insert(chat([]).replacingOccurrences(of: "[]", with: #"[{"content":"hi","role":"user"}]"#), at: 7)  // line 8: no answer
        lines.insert(chat([("q", "done<|endoftext|>")]), at: 11)                               // line 12: pasted end marker
        lines.append(chat([("Tell me a long story.", String(repeating: "Once upon a time there was a story. ", count: 30))]))  // cut
        lines.append(chat([(String(repeating: "A very long question indeed. ", count: 30), "Short.")]))                     // nothing left
        let input = dir + "/chats.jsonl"
        Fixtures.write(lines.joined(separator: "\n") + "\n", to: input)
        let args = ["tokenize", input, "--format", "chat", "--tokenizer", tokDir, "--out", dir + "/sft", "--max-tokens", "160"]
        let r = try Fixtures.prep(args)
        #expect(r.status == 3, "\(r.stderr)")
        #expect(r.stderr.contains("chats.jsonl line 4"))
        let m = try TokenizeManifest.read(dir + "/sft/manifest.json")
        let sft = try #require(m.sft)
        #expect(sft.examplesRead == 25 && sft.examplesWritten == 21)
        #expect(sft.refused == ["invalid-json": 1, "no-answer": 1, "special-token-text": 1, "nothing-trained-after-truncation": 1])
        #expect(sft.problems.map(\.line) == [4, 8, 12, 25])
        #expect(sft.truncated == 1)
        #expect(sft.answerCoverage.count == 2 && sft.answerCoverage[1].examples == 10)
        #expect(m.inputs[0].errors == 4 && m.inputs[0].documents == 25)

        // The shard and its mask are the renderer's output, example after example.
        let shard = m.splits["train"]!.shards[0]
        let (tokens, _) = try TokenShard.decode(Fixtures.read(dir + "/sft/" + shard.path), path: shard.path)
        let index = try TokenIndex.decode(Fixtures.read(dir + "/sft/" + shard.index), path: shard.index)
        let mask = try #require(index.mask)
        let renderer = try ChatRenderer(template: .default, tokenizer: tok, endOfText: m.tokenizer.endOfText)
        var expected: [UInt32] = [], expectedMask: [Bool] = []
        for line in lines {
            guard let record = try? JSONParser.parse(Array(line.utf8)),
                  let turns = try? SupervisedExamples.turns(record, format: .chat),
                  let e = try? renderer.render(turns, maxTokens: 160), e.trainedTokens > 0 else { continue }
            expected += e.tokens
            expectedMask += e.mask
        }
        #expect(tokens == expected)
        #expect(mask == expectedMask)
        #expect(shard.trainedTokens == sft.trainedTokens && sft.trainedTokens == mask.filter { $0 }.count)
        #expect(abs(sft.trainedFraction - Double(sft.trainedTokens) / Double(sft.tokens)) < 1e-12)
        #expect(index.offsets.count == 22 && index.offsets.dropLast().allSatisfy { tokens[Int($0)] == UInt32(m.tokenizer.endOfText) })

        // A rerun does nothing; --force redoes it to the same bytes.
        let shardBytes = Fixtures.read(dir + "/sft/" + shard.path)
        let again = try Fixtures.prep(args + ["--json"])
        #expect(again.status == 3 && again.stdout.contains(#""up_to_date" : true"#), "\(again.stdout.prefix(300))")
        let forced = try Fixtures.prep(args + ["--json", "--force"])
        #expect(forced.stdout.contains(#""up_to_date" : false"#))
        #expect(Fixtures.read(dir + "/sft/" + shard.path) == shardBytes)

        // prep inspect shows the mask.
        let inspect = try Fixtures.prep(["inspect", dir + "/sft/" + shard.path, "--tokenizer", tokDir])
        #expect(inspect.stdout.contains("loss mask: \(sft.trainedTokens) of \(tokens.count) tokens trained"))
        #expect(inspect.stdout.contains("⟦"))

        // Bad templates are usage errors.
        Fixtures.write("assistant: \"{content}<|endoftext|><|endoftext|>\"\n", to: dir + "/double.yaml")
        let double = try Fixtures.prep(args + ["--template", dir + "/double.yaml", "--out", dir + "/sft2"])
        #expect(double.status == 2 && double.stderr.contains("side by side"))
        Fixtures.write("asistant: \"{content}\"\n", to: dir + "/typo.yaml")
        #expect(try Fixtures.prep(args + ["--template", dir + "/typo.yaml", "--out", dir + "/sft2"]).stderr.contains("unknown key \"asistant\""))
    }

    /// Alpaca files are often JSON arrays; the real demo sets in English and Chinese.
    @Test func sftAlpacaArraysSplitAndThreads() throws {
        let dir = Fixtures.tempDir("alpaca")
        let tokDir = try Self.sampleTokenizer(dir)
        let inputs = [Fixtures.corpora + "/sft/alpaca_en_demo.json", Fixtures.corpora + "/sft/alpaca_zh_demo.json"]
        let common = ["tokenize"] + inputs + ["--format", "alpaca", "--tokenizer", tokDir, "--val-fraction", "0.1", "--max-tokens", "512", "--quiet"]
        let r = try Fixtures.prep(common + ["--out", dir + "/a2", "--threads", "2"])
        #expect(r.status == 0 || r.status == 3, "\(r.stderr)")
        let m = try TokenizeManifest.read(dir + "/a2/manifest.json")
        let sft = try #require(m.sft)
        #expect(sft.examplesRead == 1999)
        #expect(sft.examplesWritten + sft.refused.values.reduce(0, +) == 1999)
        #expect(m.splits["train"]!.documents + m.splits["val"]!.documents == sft.examplesWritten)
        #expect(m.splits["val"]!.documents > 120 && m.splits["val"]!.documents < 280)
        #expect(sft.trainedFraction > 0.3 && sft.trainedFraction < 0.95)
        #expect(try Fixtures.prep(common + ["--out", dir + "/a1", "--threads", "1"]).status == r.status)
        #expect(outputFiles(dir + "/a1") == outputFiles(dir + "/a2"))
        #expect(outputFiles(dir + "/a1").count == 4)
        if let python = Fixtures.venvPython {
            let v = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/validate-json.py",
                                              Fixtures.repoRoot + "/schemas/tokenize-manifest.schema.json", dir + "/a2/manifest.json"])
            #expect(v.status == 0, "\(v.stdout)")
        }
    }

    /// Rare pre-tokens are pruned past --mem-budget; the manifest counts them, and the merges
    /// still do not depend on the thread count.
    @Test func memoryBudgetPrunesRarePreTokens() throws {
        let dir = Fixtures.tempDir("budget")
        #expect(try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/docs", "--quiet", "--shard-size", "200KB"]).status == 3)
        let args = ["train-tokenizer", dir + "/docs", "--vocab-size", "600", "--mem-budget", "100KB", "--quiet"]
        #expect(try Fixtures.prep(args + ["--out", dir + "/t2", "--threads", "2"]).status == 0)
        #expect(try Fixtures.prep(args + ["--out", dir + "/t1", "--threads", "1"]).status == 0)
        let m = try TrainTokenizerManifest.read(dir + "/t2/manifest.json")
        #expect(m.prunedPreTokens > 0 && m.prunedMaxCount >= 1)
        #expect(m.distinctPreTokens - m.prunedPreTokens <= 100 * 1024 / 96 || m.distinctPreTokens - m.prunedPreTokens <= 1024)
        #expect(Fixtures.read(dir + "/t1/merges.txt") == Fixtures.read(dir + "/t2/merges.txt"))
        let full = ["train-tokenizer", dir + "/docs", "--vocab-size", "600", "--quiet", "--out", dir + "/t0"]
        #expect(try Fixtures.prep(full).status == 0)
        #expect(try TrainTokenizerManifest.read(dir + "/t0/manifest.json").prunedPreTokens == 0)
        if let python = Fixtures.venvPython {
            let v = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/validate-json.py",
                                              Fixtures.repoRoot + "/schemas/train-tokenizer-manifest.schema.json",
                                              dir + "/t2/manifest.json", dir + "/t0/manifest.json"])
            #expect(v.status == 0, "\(v.stdout)")
        }
        // A rerun with the same inputs and options does nothing.
        let again = try Fixtures.prep(full + ["--json"])
        #expect(again.stdout.contains(#""up_to_date" : true"#))
    }

    /// A run killed while writing its files leaves some of them and a temporary one behind: the
    /// rerun removes the temporary file and writes every file again (a kill rarely lands in that
    /// window, so the test makes the state by hand).
    @Test func trainTokenizerRerunClearsWhatAKilledWriteLeft() throws {
        let dir = Fixtures.tempDir("tokleft")
        #expect(try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/docs", "--quiet"]).status == 3)
        let args = ["train-tokenizer", dir + "/docs", "--vocab-size", "400", "--quiet"]
        #expect(try Fixtures.prep(args + ["--out", dir + "/ref"]).status == 0)
        let out = dir + "/killed"
        #expect(try Fixtures.prep(args + ["--out", out]).status == 0)
        unlink(out + "/manifest.json")
        unlink(out + "/vocab.txt")
        Fixtures.write("{\"half\": ", to: out + "/.gpt2_tokenizer.bin.tmp-99999")
        Fixtures.write("{\"half\": ", to: out + "/.manifest.json.tmp-99998")
        Fixtures.write("garbage", to: out + "/merges.txt")
        #expect(try Fixtures.prep(args + ["--out", out]).status == 0)
        #expect(outputFiles(out) == outputFiles(dir + "/ref"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "\(leftovers)")
    }

    /// Killed with SIGKILL at several random moments and rerun, train-tokenizer and tokenize give the
    /// bytes of an uninterrupted run.
    @Test func killedTokenizerStagesRerunToTheSameBytes() throws {
        let dir = Fixtures.tempDir("tokkill")
        let corpus = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/en-docs.jsonl.zst"]).stdout
        let lines = corpus.split(separator: "\n", omittingEmptySubsequences: true)
        let part = lines.enumerated().filter { $0.offset % 4 == 0 }.map { String($0.element) }.joined(separator: "\n")
        Fixtures.write(part + "\n", to: dir + "/in/part0.jsonl")
        #expect(try Fixtures.prep(["ingest", dir + "/in", "--out", dir + "/docs", "--shard-size", "2MB", "--quiet"]).status == 0)
        let trainKills = try killAndRerun(["train-tokenizer", dir + "/docs", "--vocab-size", "2048", "--threads", "2", "--quiet"],
                                          dir: dir, name: "train", outputs: outputFiles)
        let tokenizeKills = try killAndRerun(["tokenize", dir + "/docs", "--tokenizer", dir + "/train-ref", "--threads", "2",
                                              "--shard-tokens", "300000", "--val-fraction", "0.05", "--quiet"],
                                             dir: dir, name: "tokenize", outputs: outputFiles)
        print("kill points landed mid-run: train-tokenizer \(trainKills.landed)/\(trainKills.tried), "
              + "tokenize \(tokenizeKills.landed)/\(tokenizeKills.tried) (KILN_KILL_SEED=\(KillHarness.seed))")
    }
}

@Suite struct SampleTaskTests {
    /// The sample tasks tokenize without a refusal, and no held-out review appears in the text
    /// that a model pre-trained on samples/raw has seen.
    @Test func sampleTasksTokenizeAndHeldOutReviewsAreUnseen() throws {
        let dir = Fixtures.tempDir("tasks")
        let tok = try TokenizeCLITests.sampleTokenizer(dir)
        let tasks = Fixtures.repoRoot + "/samples/tasks"
        for (task, format) in [("chat", "chat"), ("sentiment-zh", "prompt-completion")] {
            for split in ["train", "test"] {
                let r = try Fixtures.prep(["tokenize", "\(tasks)/\(task)/\(split).jsonl", "--format", format, "--tokenizer", tok,
                                           "--out", "\(dir)/\(task)-\(split)", "--max-tokens", "256", "--quiet"])
                #expect(r.status == 0, "\(task)/\(split): \(r.stderr)")
            }
        }
        let docs = try Fixtures.documents(in: dir + "/docs").map(\.text).joined(separator: "\n")
        var held = 0
        for line in String(decoding: Fixtures.read(tasks + "/sentiment-zh/test.jsonl"), as: UTF8.self).split(separator: "\n") {
            let r = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let prompt = r["prompt"] as! String
            let review = String(prompt.dropFirst(3).dropLast(4))
            #expect(!docs.contains(review), "held-out review in samples/raw: \(review)")
            held += 1
        }
        #expect(held == 200)
    }
}
