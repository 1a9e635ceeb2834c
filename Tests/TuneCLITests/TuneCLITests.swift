import FineTuning
import Foundation
import GPTModel
import Testing
import TestSupport

/// `tune init`, `tune info` and `tune run` end to end on the sample chat task, with a tiny model.
@Suite(.serialized) struct TuneCLITests {
    /// A tokenizer and SFT shards of the sample chat task, made once per test.
    static func data(_ dir: String, vocab: Int = 512, examples: Int? = nil) throws -> (tok: String, sft: String) {
        #expect(try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/docs", "--quiet"]).status == 3)
        #expect(try Fixtures.prep(["train-tokenizer", dir + "/docs", "--vocab-size", "\(vocab)", "--out", dir + "/tok", "--quiet"]).status == 0)
        var input = Fixtures.repoRoot + "/samples/tasks/chat/train.jsonl"
        if let examples {
            let lines = String(decoding: Fixtures.read(input), as: UTF8.self).split(separator: "\n").prefix(examples)
            input = dir + "/chat.jsonl"
            Fixtures.write(lines.joined(separator: "\n") + "\n", to: input)
        }
        let t = try Fixtures.prep(["tokenize", input, "--format", "chat", "--tokenizer", dir + "/tok", "--out", dir + "/sft",
                                   "--max-tokens", "64", "--val-fraction", "0.1", "--quiet"])
        // 3: a few long conversations keep no trained token after the cut to 64, and are refused.
        #expect(t.status == 0 || t.status == 3, "\(t.stderr)")
        return (dir + "/tok", dir + "/sft")
    }

    static let tiny = ["--layers", "2", "--channels", "32", "--heads", "2", "--max-seq", "64"]
    static let short = ["--batch-size", "4", "--seq-len", "64", "--eval-batches", "2", "--threads", "1", "--quiet"]

    /// --print-config writes YAML that --config reads back to the same options, flags included.
    @Test func printedConfigReadsBack() throws {
        let dir = Fixtures.tempDir("tunecfg")
        let args = ["run", "--base", "x.bin", "--data", "d", "--out", "o"]
        let printed = try Fixtures.tune(args + ["--lr", "3e-4", "--lora-targets", "fc,qkv", "--print-config"])
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains("lr: 0.0003\n") && printed.stdout.contains("lora_targets:\n  - \"fc\"\n  - \"qkv\"\n"))
        Fixtures.write(printed.stdout, to: dir + "/run.yaml")
        let again = try Fixtures.tune(args + ["--config", dir + "/run.yaml", "--print-config"])
        #expect(again.status == 0 && again.stdout == printed.stdout, "\(again.stdout)\n\(again.stderr)")
    }

    @Test func initIsReproducibleAndInfoChecksIt() throws {
        let dir = Fixtures.tempDir("tuneinit")
        for name in ["a", "b"] {
            let r = try Fixtures.tune(["init"] + Self.tiny + ["--vocab", "300", "--seed", "5", "--out", "\(dir)/\(name).bin"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(Fixtures.read(dir + "/a.bin") == Fixtures.read(dir + "/b.bin"))
        let info = try Fixtures.tune(["info", dir + "/a.bin"])
        #expect(info.status == 0 && info.stdout.contains("L=2 C=32 NH=2 T=64 V=300 Vp=384"))
        #expect(info.stdout.contains("BLAS:") && !info.stdout.contains("Prescott"))
        var bytes = Fixtures.read(dir + "/a.bin")
        bytes.removeLast(4)
        Fixtures.write(bytes, to: dir + "/cut.bin")
        let bad = try Fixtures.tune(["info", dir + "/cut.bin"])
        #expect(bad.status == 1 && bad.stderr.contains("cut.bin"))
        #expect(try Fixtures.tune(["init", "--preset", "d7", "--out", dir + "/x.bin"]).status == 2)
    }

    /// 12 steps in one go, and 6 + resume + 6, give identical weights; a SIGUSR1 writes a
    /// checkpoint and exits 75, and --resume finishes the run.
    @Test func resumeIsBitExactAndSignalsCheckpoint() throws {
        let dir = Fixtures.tempDir("tuneresume")
        let (tok, sft) = try Self.data(dir)
        #expect(try Fixtures.tune(["init"] + Self.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let common = ["run", "--base", dir + "/base.bin", "--data", sft, "--steps", "12", "--lr", "3e-3", "--eval-every", "6"] + Self.short
        let whole = try Fixtures.tune(common + ["--out", dir + "/whole"])
        #expect(whole.status == 0, "\(whole.stderr)")
        #expect(try Fixtures.tune(common + ["--out", dir + "/parts", "--save-every", "6", "--keep", "3"]).status == 0)
        // Forget the end of the second run, as if it had been killed after step 6.
        for f in ["model_00000012.bin", "state_00000012.bin", "model_00000012.bin.kiln.json"] { unlink(dir + "/parts/" + f) }
        let resumed = try Fixtures.tune(common + ["--out", dir + "/parts", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(Fixtures.read(dir + "/whole/model_00000012.bin") == Fixtures.read(dir + "/parts/model_00000012.bin"))
        let lines = String(decoding: Fixtures.read(dir + "/parts/metrics.jsonl"), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 12)
        #expect(String(decoding: Fixtures.read(dir + "/whole/loss.svg"), as: UTF8.self).contains("<polyline"))

        // SIGUSR1 (Slurm's warning): a checkpoint, exit 75; --resume completes the run.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.binDir + "/tune")
        p.arguments = ["run", "--base", dir + "/base.bin", "--data", sft, "--steps", "100000", "--out", dir + "/sig",
                       "--eval-every", "0"] + Self.short
        p.standardError = FileHandle.nullDevice
        try p.run()
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: dir + "/sig/metrics.jsonl") { usleep(50_000) }
        kill(p.processIdentifier, SIGUSR1)
        p.waitUntilExit()
        #expect(p.terminationStatus == 75)
        let saved = RunFolder(dir + "/sig").checkpoints()
        #expect(saved.count == 1)
    }

    /// `tune run` killed with SIGKILL at random moments (Tests/TestSupport/KillHarness.swift) and
    /// rerun as a requeued job would be (with --resume once a complete checkpoint exists): the
    /// final weights and optimizer state are those of an uninterrupted run, byte for byte.
    @Test func killedRunsResumeToTheSameWeights() throws {
        let dir = Fixtures.tempDir("tunekill")
        let (tok, sft) = try Self.data(dir)
        #expect(try Fixtures.tune(["init"] + Self.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let steps = 40
        let args = ["run", "--base", dir + "/base.bin", "--data", sft, "--steps", "\(steps)", "--lr", "3e-3",
                    "--eval-every", "10", "--save-every", "4", "--keep", "2"] + Self.short
        let finals = [String(format: "model_%08d.bin", steps), String(format: "state_%08d.bin", steps)]
        let run = KillableRun(
            name: "tune-run", program: Fixtures.binDir + "/tune",
            arguments: { args + ["--out", $0] },
            rerunArguments: { out in args + ["--out", out] + (RunFolder(out).checkpoints().isEmpty ? [] : ["--resume"]) },
            outputs: { out in
                Dictionary(uniqueKeysWithValues: finals.map { ($0, Fixtures.read(out + "/" + $0)) }.filter { !$0.1.isEmpty })
            })
        let report = try KillHarness.check(run, dir: dir, count: KillHarness.points(normal: 4))
        #expect(report.failures.isEmpty, "\(report)")
        #expect(report.landed >= 1, "no kill landed mid-run: \(report)")
    }

    /// A 1 MB tmpfs as the run folder, and a read-only one: exit 1 with an error naming the file
    /// (ENOSPC, EROFS), no summary.json, no temporary file, and every model file left under its
    /// final name is complete (`tune info` reads it).
    @Test func aFullOrReadOnlyRunFolderIsAClearError() throws {
        let dir = Fixtures.tempDir("tunefull")
        let (tok, sft) = try Self.data(dir)
        #expect(try Fixtures.tune(["init"] + Self.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let args = ["run", "--base", dir + "/base.bin", "--data", sft, "--steps", "20", "--save-every", "2", "--keep", "100",
                    "--eval-every", "0"] + Self.short
        if let mount = ScratchMount.tmpfs(size: "1m", test: "full disk (tune run)") {
            defer { mount.unmount() }
            let out = mount.path + "/run"
            let r = try Fixtures.tune(args + ["--out", out])
            #expect(r.status == 1, "\(r.status): \(r.stderr)")
            #expect(r.stderr.contains("No space left on device") && r.stderr.contains(out + "/"), "\(r.stderr)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
            #expect(!names.contains { $0.hasPrefix(".") } && !names.contains("summary.json"), "\(names)")
            let models = names.filter { $0.hasPrefix("model_") && $0.hasSuffix(".bin") }
            #expect(!models.isEmpty, "\(names)")
            for m in models { #expect(try Fixtures.tune(["info", out + "/" + m]).status == 0, "\(m) is not complete") }
            print("full disk, tune run: exit \(r.status), \(models.count) complete model files kept: \(r.stderr.split(separator: "\n").last ?? "")")
        }
        try withUnwritableFolder(test: "unwritable run folder") { out in
            let r = try Fixtures.tune(args + ["--out", out + "/run"])
            #expect(r.status == 1, "\(r.status): \(r.stderr)")
            #expect(r.stderr.contains(out) && (r.stderr.contains("Read-only file system") || r.stderr.contains("Permission denied")),
                    "\(r.stderr)")
        }
    }

    /// Checkpoint headers that claim terabytes are refused before anything is allocated: GPT-3's
    /// shape (175 billion parameters, 700 GB of float32) in a 1 KB file, a header past 2^40
    /// parameters, a safetensors header nested 100,000 deep, and a Hugging Face folder whose
    /// config.json has GPT-3's shape beside a 2.6 KB model.safetensors (the hf-config fuzz
    /// target's seed; the reader allocated for the config's shape before looking at the
    /// tensors). Bound: exit 1 naming the file, under 256 MiB of RSS and 30 s each.
    @Test func checkpointHeadersClaimingTerabytesAreRefusedBeforeAllocating() throws {
        let dir = Fixtures.tempDir("tunehuge")
        func llmc(_ slots: [Int32]) -> [UInt8] {
            var h = [Int32](repeating: 0, count: 256)
            h[0] = 20240326
            h[1] = 3
            for (i, v) in slots.enumerated() { h[2 + i] = v }
            return h.withUnsafeBytes { Array($0) }
        }
        // maxT, V, L, NH, C, Vp
        Fixtures.write(llmc([2048, 50257, 96, 96, 12288, 50304]), to: dir + "/gpt3.bin")
        Fixtures.write(llmc([2048, 50257, 4096, 512, 65536, 50304]), to: dir + "/huge.bin")
        let deep = "{\"a\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        Fixtures.write(#"{"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 64, "vocab_size": 300}"#, to: dir + "/config.json")
        Fixtures.write(withUnsafeBytes(of: UInt64(deep.utf8.count).littleEndian) { Array($0) } + Array(deep.utf8), to: dir + "/deep.safetensors")
        try Checkpoint.random(config: GPTConfig(maxSeqLen: 4, vocabSize: 8, numLayers: 1, numHeads: 2, channels: 4), seed: 1)
            .writeHF(directory: dir + "/gpt3-hf")
        Fixtures.write(#"{"n_embd": 12288, "n_layer": 96, "n_head": 96, "n_positions": 2048, "vocab_size": 50257}"#,
                       to: dir + "/gpt3-hf/config.json")
        for (name, expected) in [("gpt3.bin", "bytes"), ("huge.bin", "implausibly large"), ("deep.safetensors", "safetensors"),
                                 ("gpt3-hf", "describes a model of 174604259328 parameters")] {
            for args in [["info", dir + "/" + name],
                         ["run", "--base", dir + "/" + name, "--data", dir, "--out", dir + "/run", "--steps", "1"] + Self.short] {
                let r = try ChildProcess.measure(Fixtures.binDir + "/tune", args)
                print("tune \(args[0]) \(name): exit \(r.status), peak RSS \(r.maxRSS >> 20) MiB, \(String(format: "%.2f", r.seconds)) s: \(r.stderr.prefix(200))")
                #expect(r.status == 1 && r.stderr.contains(name) && r.stderr.contains(expected), "\(name): \(r.status) \(r.stderr)")
                #expect(r.maxRSS < 256 << 20 && r.seconds < 30, "\(name): \(r.maxRSS >> 20) MiB, \(r.seconds) s")
            }
        }
    }

    @Test func aTokenizerMismatchIsRefused() throws {
        let dir = Fixtures.tempDir("tunefp")
        let (_, sft) = try Self.data(dir)
        #expect(try Fixtures.prep(["train-tokenizer", dir + "/docs", "--vocab-size", "600", "--out", dir + "/tok2", "--quiet"]).status == 0)
        #expect(try Fixtures.tune(["init"] + Self.tiny + ["--tokenizer", dir + "/tok2", "--out", dir + "/other.bin"]).status == 0)
        let r = try Fixtures.tune(["run", "--base", dir + "/other.bin", "--data", sft, "--out", dir + "/run", "--steps", "2"] + Self.short)
        #expect(r.status == 1 && r.stderr.contains("tokenizer"), "\(r.stderr)")
        // A vocabulary too small for the data's ids is refused as well.
        #expect(try Fixtures.tune(["init"] + Self.tiny + ["--vocab", "300", "--out", dir + "/small.bin"]).status == 0)
        let small = try Fixtures.tune(["run", "--base", dir + "/small.bin", "--data", sft, "--out", dir + "/run2", "--steps", "2"] + Self.short)
        #expect(small.status == 1 && small.stderr.contains("vocabulary"), "\(small.stderr)")
        // A sequence longer than the model's is refused before anything runs.
        let long = try Fixtures.tune(["run", "--base", dir + "/other.bin", "--data", sft, "--out", dir + "/run3", "--steps", "2",
                                      "--seq-len", "128", "--quiet"])
        #expect(long.status == 1 && long.stderr.contains("maximum sequence length"))
    }

    /// A tiny model overfits a tiny set: the loss falls near zero.
    @Test func aTinyModelOverfitsATinySet() throws {
        let dir = Fixtures.tempDir("tuneoverfit")
        let (tok, sft) = try Self.data(dir, examples: 12)
        #expect(try Fixtures.tune(["init"] + Self.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let r = try Fixtures.tune(["run", "--base", dir + "/base.bin", "--data", sft, "--out", dir + "/run", "--steps", "150",
                                   "--lr", "1e-2", "--warmup-steps", "10", "--weight-decay", "0", "--eval-every", "0", "--json"] + Self.short)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = String(decoding: Fixtures.read(dir + "/run/metrics.jsonl"), as: UTF8.self).split(separator: "\n")
        let losses = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 150)
        #expect(losses.first! > 5)
        #expect(losses.suffix(10).reduce(0, +) / 10 < 0.5, "\(losses.suffix(10))")
    }

    @Test func aDivergingRunStopsWithItsOwnStatus() throws {
        let dir = Fixtures.tempDir("tunenan")
        let (tok, sft) = try Self.data(dir)
        #expect(try Fixtures.tune(["init"] + Self.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let r = try Fixtures.tune(["run", "--base", dir + "/base.bin", "--data", sft, "--out", dir + "/run", "--steps", "50",
                                   "--lr", "1e30", "--grad-clip", "0", "--warmup-steps", "0", "--save-every", "1"] + Self.short)
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.contains("not finite") && r.stderr.contains("last good checkpoint"))
    }
}

@Suite struct TuneEvalCLITests {
    /// eval, generate and export on a briefly trained tiny model.
    @Test func evalGenerateAndExport() throws {
        let dir = Fixtures.tempDir("tuneeval")
        let (tok, sft) = try TuneCLITests.data(dir)
        #expect(try Fixtures.tune(["init"] + TuneCLITests.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        #expect(try Fixtures.tune(["run", "--base", dir + "/base.bin", "--data", sft, "--out", dir + "/run", "--steps", "10",
                                   "--lr", "3e-3", "--eval-every", "0"] + TuneCLITests.short).status == 0)
        let model = dir + "/run/model_00000010.bin"

        // Loss on the validation split falls from the base model's.
        func loss(_ m: String) throws -> Double {
            let r = try Fixtures.tune(["eval", m, "--data", sft, "--json", "--threads", "1"])
            #expect(r.status == 0, "\(r.stderr)")
            return try #require((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["loss"] as? Double)
        }
        #expect(try loss(model) < loss(dir + "/base.bin"))

        // Tasks: classification by choices, exact match by generation, each with the answer loss.
        let tasks = Fixtures.repoRoot + "/samples/tasks"
        let t = try Fixtures.tune(["eval", model, "--tokenizer", tok, "--tasks", tasks + "/sentiment-zh/test.jsonl",
                                   "--tasks", tasks + "/chat/test.jsonl", "--limit", "6", "--json", "--threads", "1"])
        #expect(t.status == 0, "\(t.stderr)")
        let reports = try #require((try JSONSerialization.jsonObject(with: Data(t.stdout.utf8)) as? [String: Any])?["tasks"] as? [[String: Any]])
        #expect(reports.count == 2)
        #expect(reports[0]["classified"] as? Int == 6 && reports[0]["accuracy"] != nil)
        #expect(reports[1]["generated"] as? Int == 6 && reports[1]["exact_match"] != nil)
        #expect(reports.allSatisfy { (($0["answer_loss"] as? Double) ?? .nan).isFinite })

        // Greedy generation is deterministic; sampling follows the seed.
        func gen(_ extra: [String]) throws -> [Int] {
            let r = try Fixtures.tune(["generate", model, "--tokenizer", tok, "--prompt", "Hello", "--chat", "--max-tokens", "12",
                                       "--json", "--threads", "1"] + extra)
            #expect(r.status == 0, "\(r.stderr)")
            return try #require((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["tokens"] as? [Int])
        }
        #expect(try gen(["--temperature", "0"]) == gen(["--temperature", "0"]))
        #expect(try gen(["--seed", "3"]) == gen(["--seed", "3"]))

        // HF export and back: the same llm.c bytes; bf16 is half the size.
        #expect(try Fixtures.tune(["export", model, "--to", "hf", "--tokenizer", tok, "--out", dir + "/hf"]).status == 0)
        for f in ["model.safetensors", "config.json", "tokenizer.json", "vocab.json", "merges.txt"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/hf/" + f), "\(f)")
        }
        #expect(try Fixtures.tune(["export", dir + "/hf", "--to", "llmc", "--out", dir + "/back.bin"]).status == 0)
        #expect(Fixtures.read(dir + "/back.bin") == Fixtures.read(model))
        #expect(try Fixtures.tune(["export", model, "--to", "llmc-bf16", "--out", dir + "/bf16.bin"]).status == 0)
        let n = Fixtures.read(model).count - 1024
        #expect(Fixtures.read(dir + "/bf16.bin").count == 1024 + n / 2)
    }
}

@Suite struct TuneLoRACLITests {
    @Test func loraRunSavesAdaptersAndMerges() throws {
        let dir = Fixtures.tempDir("tunelora")
        let (tok, sft) = try TuneCLITests.data(dir)
        #expect(try Fixtures.tune(["init"] + TuneCLITests.tiny + ["--tokenizer", tok, "--out", dir + "/base.bin"]).status == 0)
        let r = try Fixtures.tune(["run", "--base", dir + "/base.bin", "--data", sft, "--out", dir + "/lora", "--steps", "24",
                                   "--lr", "3e-2", "--lora-rank", "4", "--lora-targets", "qkv,fc", "--eval-every", "12",
                                   "--save-every", "12", "--json"] + TuneCLITests.short)
        #expect(r.status == 0, "\(r.stderr)")
        // Only the adapters learn, and the training loss falls.
        let losses = String(decoding: Fixtures.read(dir + "/lora/metrics.jsonl"), as: UTF8.self).split(separator: "\n")
            .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.compactMap { $0["loss"] as? Double }
        #expect(losses.count == 24 && losses.suffix(5).reduce(0, +) < losses.prefix(5).reduce(0, +), "\(losses)")
        for f in ["adapter_00000024.safetensors", "adapter_config.json", "state_00000024.bin"] {
            #expect(FileManager.default.fileExists(atPath: dir + "/lora/" + f), "\(f)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/lora/model_00000024.bin"))
        // Export needs --merge-lora; the merged model evaluates as the adapters do.
        #expect(try Fixtures.tune(["export", dir + "/lora", "--to", "llmc", "--out", dir + "/merged.bin"]).status == 2)
        #expect(try Fixtures.tune(["export", dir + "/lora", "--merge-lora", "--to", "llmc", "--out", dir + "/merged.bin"]).status == 0)
        func loss(_ m: String) throws -> Double {
            let e = try Fixtures.tune(["eval", m, "--data", sft, "--json", "--threads", "1"])
            #expect(e.status == 0, "\(e.stderr)")
            return (try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as? [String: Any])?["loss"] as? Double ?? .nan
        }
        let viaAdapters = try loss(dir + "/lora"), merged = try loss(dir + "/merged.bin")
        #expect(abs(viaAdapters - merged) < 1e-6)
        #expect(try loss(dir + "/base.bin") > merged)
        // --resume continues from the adapters.
        let more = try Fixtures.tune(["run", "--base", dir + "/base.bin", "--data", sft, "--out", dir + "/lora", "--steps", "26",
                                      "--lr", "3e-2", "--lora-rank", "4", "--lora-targets", "qkv,fc", "--save-every", "12",
                                      "--resume"] + TuneCLITests.short)
        #expect(more.status == 0, "\(more.stderr)")
    }
}
