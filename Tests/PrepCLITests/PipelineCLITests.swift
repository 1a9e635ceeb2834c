import DataPrep
import Foundation
import Testing
import TestSupport

@Suite struct PipelineCLITests {
    /// Every file in pipelines/ loads, and its plan prints.
    @Test(arguments: ["demo.yaml", "gpt2-finetune.yaml", "pretrain-2ranks.yaml"])
    func shippedPipelinesLoad(file: String) throws {
        let r = try Fixtures.prep(["run", Fixtures.repoRoot + "/pipelines/" + file, "--dry-run", "--set", "workdir=" + Fixtures.tempDir("plan")],
                                  cwd: Fixtures.repoRoot)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("would run"))
    }

    /// Mistakes are found before anything runs, each with the file, the line and the key.
    @Test(arguments: [
        ("stages:\n  - name: a\n    run: prep ingest\n    inputs: [x]\n    out: o\n    optoins: {}\n", ":6:", "unknown key \"optoins\""),
        ("stages:\n  - name: a\n    run: prep ingest\n    inputs: [x]\n    out: o\n    options:\n      compresion: zstd\n", ":7:", "has no option \"compresion\""),
        ("stages:\n  - name: a\n    run: prep clean\n    inputs: [\"@b\"]\n    out: o\n  - name: b\n    run: prep ingest\n    inputs: [x]\n    out: p\n", ":4:", "comes later"),
        ("stages:\n  - name: a\n    run: prep ingest\n    inputs: [\"${nope}\"]\n    out: o\n", ":4:", "undefined variable ${nope}"),
        ("stages:\n  - name: a\n    run: prep fly\n", ":3:", "run must be one of"),
        ("stagez: []\n", ":1:", "unknown key \"stagez\""),
        ("stages:\n  - name: a\n    run: tune init\n    options: {layers: 2}\n", ":2:", "needs out"),
        ("stages:\n  - name: a\n    run: prep ingest\n    inputs: [x]\n    out: o\n    options: {force: maybe}\n", ":6:", "is a flag"),
        ("stages:\n  - name: a\n    run: prep ingest\n    inputs: [x]\n    out: o\n    ranks: 2\n", ":6:", "only tune run runs on several processes"),
        ("stages:\n  - name: a\n    run: tune run\n    out: o\n    ranks: 0\n    options: {base: b, data: d}\n", ":5:", "ranks must be a whole number"),
    ])
    func mistakesNameTheFileAndLine(yaml: String, line: String, message: String) throws {
        let dir = Fixtures.tempDir("badpipe")
        Fixtures.write(yaml, to: dir + "/p.yaml")
        let r = try Fixtures.prep(["run", dir + "/p.yaml", "--dry-run"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("p.yaml" + line) && r.stderr.contains(message), "\(r.stderr)")
    }

    /// A `tune run` stage with `ranks: 2` runs under mpirun (rank 0's summary says 2 ranks), is
    /// skipped on a rerun, and runs again when the rank count changes.
    @Test func aTrainingStageRunsOnTwoRanks() throws {
        let dir = Fixtures.tempDir("piperanks")
        Fixtures.write("""
            workdir: \(dir)/work
            vars: {ranks: "2"}
            stages:
              - {name: docs, run: prep ingest, inputs: ["\(Fixtures.samples)/text-docs.tar.gz"], out: "${workdir}/docs"}
              - {name: tok, run: prep train-tokenizer, inputs: ["@docs"], out: "${workdir}/tok", options: {vocab_size: 300}}
              - {name: tokens, run: prep tokenize, inputs: ["@docs"], out: "${workdir}/tokens", options: {tokenizer: "@tok"}}
              - {name: init, run: tune init, out: "${workdir}/init.bin", options: {layers: 1, channels: 16, heads: 2, max_seq: 16, tokenizer: "@tok"}}
              - name: train
                run: tune run
                ranks: ${ranks}
                out: ${workdir}/train
                options: {base: "@init", data: "@tokens", steps: 3, batch_size: 2, seq_len: 16, eval_every: 0, threads: 1}

            """, to: dir + "/p.yaml")
        let r = try Fixtures.prep(["run", dir + "/p.yaml"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("== train: mpirun -np 2 tune run"), "\(r.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/work/train/summary.json"))) as? [String: Any]
        #expect(summary?["ranks"] as? Int == 2)
        let again = try Fixtures.prep(["run", dir + "/p.yaml", "--dry-run"])
        #expect(again.stderr.contains("train: skipped (up to date)"), "\(again.stderr)")
        let one = try Fixtures.prep(["run", dir + "/p.yaml", "--set", "ranks=1", "--dry-run"])
        #expect(one.stderr.contains("train: would run (its options or inputs changed)"), "\(one.stderr)")
    }

    /// A small pipeline of prep and tune stages runs, skips everything on a rerun, and reruns
    /// what an option change touches.
    @Test func runsSkipsAndRerunsWhatChanged() throws {
        let dir = Fixtures.tempDir("pipe")
        Fixtures.write("""
            name: small
            workdir: \(dir)/work
            vars: {vocab: "400"}
            stages:
              - name: docs
                run: prep ingest
                inputs: ["\(Fixtures.samples)/text-docs.tar.gz", "\(Fixtures.samples)/records.jsonl.zst"]
                out: ${workdir}/docs
              - name: tokenizer
                run: prep train-tokenizer
                inputs: ["@docs"]
                out: ${workdir}/tokenizer
                options: {vocab_size: "${vocab}"}
              - name: tokens
                run: prep tokenize
                inputs: ["@docs"]
                out: ${workdir}/tokens
                options: {tokenizer: "@tokenizer", val_fraction: 0.1}
              - name: init
                run: tune init
                out: ${workdir}/init.bin
                options: {layers: 1, channels: 16, heads: 2, max_seq: 32, tokenizer: "@tokenizer"}
              - name: train
                run: tune run
                out: ${workdir}/train
                options: {base: "@init", data: "@tokens", steps: 3, batch_size: 2, seq_len: 32, eval_every: 0, threads: 1}
              - name: eval
                run: tune eval
                inputs: ["@train"]
                out: ${workdir}/eval.json
                options: {data: "@tokens", max_batches: 2, seq_len: 32}

            """, to: dir + "/small.yaml")
        let first = try Fixtures.prep(["run", dir + "/small.yaml", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        func statuses(_ r: Fixtures.RunResult) throws -> [String] {
            let obj = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return ((obj?["stages"] as? [[String: Any]]) ?? []).compactMap { $0["status"] as? String }
        }
        #expect(try statuses(first) == Array(repeating: "ran", count: 6))
        let eval = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/work/eval.json"))) as? [String: Any]
        #expect(((eval?["loss"] as? Double) ?? .nan).isFinite)
        #expect(FileManager.default.fileExists(atPath: dir + "/work/pipeline-summary.json"))

        // The report renders in a real browser (headless Chromium, installed by `make test`).
        let report = dir + "/work/report.html"
        #expect(FileManager.default.fileExists(atPath: report))
        if let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let dom = try Fixtures.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + report])
            #expect(dom.status == 0, "\(dom.stderr.suffix(500))")
            #expect(dom.stdout.contains("<h1>Pipeline small</h1>") && dom.stdout.components(separatedBy: "<svg").count >= 4)
            #expect(dom.stdout.contains("tokens per document") && dom.stdout.contains("<polyline"))
            let png = dir + "/report.png"
            _ = try Fixtures.run(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1000,1600",
                                            "--screenshot=" + png, "file://" + report])
            #expect(Fixtures.read(png).count > 20_000)
        } else {
            Issue.record("chromium is missing: `make test` installs it (scripts/deps.sh test)")
        }

        let again = try Fixtures.prep(["run", dir + "/small.yaml", "--json"])
        #expect(try statuses(again) == Array(repeating: "skipped", count: 6))

        // A new vocabulary size: the tokenizer and everything after it run again, ingest does not.
        let plan = try Fixtures.prep(["run", dir + "/small.yaml", "--set", "vocab=450", "--dry-run"])
        #expect(plan.stderr.contains("docs: skipped") && plan.stderr.contains("tokenizer: would run (its options or inputs changed)"))
        #expect(plan.stderr.contains("dry run: nothing ran") && !plan.stderr.contains("pipeline-summary.json"))
        let changed = try Fixtures.prep(["run", dir + "/small.yaml", "--set", "vocab=450", "--json"])
        #expect(try statuses(changed) == ["skipped"] + Array(repeating: "ran", count: 5))

        // --only reruns one stage with --force; a failing stage stops the run with its status.
        let only = try Fixtures.prep(["run", dir + "/small.yaml", "--set", "vocab=450", "--only", "eval", "--force", "--json"])
        #expect(try statuses(only) == Array(repeating: "not selected", count: 5) + ["ran"])
        unlink(dir + "/work/init.bin")
        try FileManager.default.removeItem(atPath: dir + "/work/train")
        Fixtures.write([1, 2, 3], to: dir + "/work/init.bin")
        let broken = try Fixtures.prep(["run", dir + "/small.yaml", "--set", "vocab=450", "--from", "train", "--json"])
        #expect(broken.status == 1)
        #expect(try statuses(broken) == Array(repeating: "not selected", count: 4) + ["failed"])
    }
}

/// Kill anywhere, for a whole `prep run`: the process group (prep run and the stage it is
/// running) killed with SIGKILL at random moments, then the same command again, must give every
/// stage's files as an uninterrupted run does; and so must a run killed, rerun, killed again and
/// rerun.
@Suite struct PipelineKillTests {
    /// The data stages on the two smallest text samples: about 5 s for the whole run.
    static func pipeline(_ dir: String) -> String {
        Fixtures.write("""
            name: kill
            workdir: \(dir)/unset
            stages:
              - {name: docs, run: prep ingest, inputs: ["\(Fixtures.samples)/text-docs.tar.gz", "\(Fixtures.samples)/zh-gb18030.txt"], out: "${workdir}/docs"}
              - {name: clean, run: prep clean, inputs: ["@docs"], out: "${workdir}/clean", options: {rejected: "${workdir}/rejected"}}
              - {name: dedup, run: prep dedup, inputs: ["@clean"], out: "${workdir}/dedup", options: {removed: "${workdir}/removed"}}
              - {name: tok, run: prep train-tokenizer, inputs: ["@dedup"], out: "${workdir}/tok", options: {vocab_size: 300}}
              - {name: tokens, run: prep tokenize, inputs: ["@dedup"], out: "${workdir}/tokens", options: {tokenizer: "@tok", val_fraction: 0.1}}

            """, to: dir + "/p.yaml")
        return dir + "/p.yaml"
    }

    static let stages = ["docs", "clean", "rejected", "dedup", "removed", "tok", "tokens"]

    /// Every stage's files but manifests and hidden files, as "stage/file"; the pipeline's own
    /// summary and report (times) are not compared.
    static func outputs(_ workdir: String) -> [String: [UInt8]] {
        var all: [String: [UInt8]] = [:]
        for s in stages {
            for (name, bytes) in outputFiles(workdir + "/" + s) { all[s + "/" + name] = bytes }
        }
        return all
    }

    /// Temporary files anywhere in the work folder: hidden files in a stage's folder, and in the
    /// work folder and its stamps anything but the stamps themselves.
    static func leftovers(_ workdir: String) -> [String] {
        func hidden(_ d: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: workdir + "/" + d)) ?? []).filter { $0.hasPrefix(".") }.map { d + "/" + $0 }
        }
        let top = ((try? FileManager.default.contentsOfDirectory(atPath: workdir)) ?? []).filter { $0.hasPrefix(".") && $0 != ".pipeline" }
        let stamps = ((try? FileManager.default.contentsOfDirectory(atPath: workdir + "/.pipeline")) ?? [])
            .filter { !($0.hasSuffix(".json") && !$0.hasPrefix(".")) }.map { ".pipeline/" + $0 }
        return top + stamps + stages.flatMap(hidden)
    }

    /// Where a killed run was: before its first stage, in the first stage without a stamp, or
    /// after the last (writing its summary).
    static func progress(_ workdir: String) -> String {
        let stamped = Set(((try? FileManager.default.contentsOfDirectory(atPath: workdir + "/.pipeline")) ?? []))
        guard FileManager.default.fileExists(atPath: workdir + "/docs") else { return "before the first stage" }
        let names = ["docs", "clean", "dedup", "tok", "tokens"]
        return names.first { !stamped.contains($0 + ".json") }.map { "in " + $0 } ?? "after the last stage"
    }

    @Test func killedPipelineRunsRerunToTheSameBytes() throws {
        let dir = Fixtures.tempDir("pipekill")
        let file = Self.pipeline(dir)
        let run = KillableRun(name: "prep-run", program: Fixtures.binDir + "/prep",
                              arguments: { ["run", file, "--set", "workdir=" + $0, "--quiet"] },
                              outputs: Self.outputs, leftovers: Self.leftovers, killGroup: true, progress: Self.progress)
        let once = try KillHarness.check(run, dir: dir, count: KillHarness.points(normal: 4))
        #expect(once.failures.isEmpty, "\(once)")
        #expect(once.landed >= 1, "no kill landed mid-run: \(once)")
        var twice = run
        twice.name = "prep-run-twice"
        let double = try KillHarness.check(twice, dir: dir, count: KillHarness.points(normal: 2), kills: 2)
        #expect(double.failures.isEmpty, "\(double)")
        print("prep run: \(once.tried) single kills and \(double.tried) kills of \(double.tried / 2) runs and their reruns; "
              + "\(once.landed + double.landed) landed mid-run (KILN_KILL_SEED=\(KillHarness.seed))")
    }
}

extension PipelineKillTests {
    /// `prep run FILE` on `workdir`, quiet, started and not waited for.
    static func startPrepRun(_ file: String, workdir: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.binDir + "/prep")
        p.arguments = ["run", file, "--set", "workdir=" + workdir, "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// A stage of the running `prep run` `p` caught at work and stopped (SIGSTOP): a child of
    /// prep run with an --out folder that exists and holds no manifest yet (children listing a
    /// command's options have no --out). However short the stage, it is still running when the
    /// test acts. If none is caught within 60 s, records the failure, kills `p` and gives nil.
    static func stopStageAtWork(of p: Process) -> (pid: pid_t, out: String)? {
        let end = Date().addingTimeInterval(60)
        while p.isRunning, Date() < end {
            for child in KillHarness.children(of: p.processIdentifier) {
                let args = KillHarness.arguments(child)
                guard let i = args.firstIndex(of: "--out"), i + 1 < args.count,
                      FileManager.default.fileExists(atPath: args[i + 1]) else { continue }
                kill(child, SIGSTOP)
                let names = (try? FileManager.default.contentsOfDirectory(atPath: args[i + 1])) ?? []
                if names.contains(where: { $0.hasPrefix("manifest") }) {
                    kill(child, SIGCONT)  // it had finished: wait for the next stage
                    continue
                }
                return (child, args[i + 1])
            }
            usleep(2000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        Issue.record("no stage was caught at work")
        return nil
    }

    /// SIGTERM to `prep run` alone (not its group), while a stage runs: the stage gets it too and
    /// stops, `prep run` exits with the stage's status, nothing of the run is left running, and
    /// the rerun finishes.
    @Test func aSignalToPrepRunAloneStopsItsStage() throws {
        let dir = Fixtures.tempDir("pipeterm")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = Self.pipeline(dir)
        let workdir = dir + "/w"
        let p = try Self.startPrepRun(file, workdir: workdir)
        // The stage is held stopped while the signal is sent, so that it cannot end first (prep
        // run between stages dies of the signal itself); the SIGTERM prep run passes on waits
        // for the SIGCONT.
        guard let running = Self.stopStageAtWork(of: p) else { return }
        kill(p.processIdentifier, SIGTERM)
        usleep(200_000)
        kill(running.pid, SIGCONT)
        p.waitUntilExit()
        #expect(p.terminationReason == .exit && p.terminationStatus != 0,
                "prep run: \(p.terminationReason == .exit ? "exit" : "signal") \(p.terminationStatus)")
        usleep(100_000)
        let left = KillHarness.processes(mentioning: workdir + "/")
        #expect(left.isEmpty, "still running after prep run stopped (the stage wrote \(running.out)): \(left)")
        for s in left { kill(s.pid, SIGKILL) }
        let rerun = try Fixtures.run(Fixtures.binDir + "/prep", ["run", file, "--set", "workdir=" + workdir, "--quiet"])
        #expect(rerun.status == 0, "\(rerun.stderr.suffix(500))")
        #expect(Self.leftovers(workdir).isEmpty, "\(Self.leftovers(workdir))")
    }

    /// SIGKILL to `prep run` alone (the OOM killer, `kill -9 PID`), which it can neither catch nor
    /// pass on: the stage it was running must not go on as an orphan beside the rerun. The stage
    /// is stopped (SIGSTOP) once it is at work (its output folder exists, with no manifest yet)
    /// and resumed only after `prep run` is gone, so that however short the stage, one that runs
    /// on to its end (as it did before) is told apart from one that stops. It must end within
    /// 5 s without finishing (no manifest; every file under a final name is the uninterrupted
    /// run's, the rest hidden temporary files), and the rerun must give the uninterrupted bytes.
    @Test func aStageDoesNotOutliveAKilledPrepRun() throws {
        let dir = Fixtures.tempDir("pipedeath")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = Self.pipeline(dir)
        let reference = try Fixtures.prep(["run", file, "--set", "workdir=" + dir + "/ref", "--quiet"])
        try #require(reference.status == 0, "\(reference.stderr.suffix(500))")
        let workdir = dir + "/w"
        let p = try Self.startPrepRun(file, workdir: workdir)
        guard let stopped = Self.stopStageAtWork(of: p) else { return }
        let name = (stopped.out as NSString).lastPathComponent
        let killed = Date()
        kill(p.processIdentifier, SIGKILL)
        // Not p.waitUntilExit() yet: Foundation learns that a child ended when a socket it gives
        // the child closes, and the stage holds that socket too (inherited through prep run).
        #expect(KillHarness.waitForEnd(of: p.processIdentifier, timeout: 5), "prep run survived SIGKILL")
        kill(stopped.pid, SIGCONT)
        let ended = KillHarness.waitForEnd(of: stopped.pid, timeout: 5)
        let seconds = Date().timeIntervalSince(killed)
        #expect(ended, "stage \(name) (pid \(stopped.pid)) still running 5 s after prep run was killed")
        if !ended {
            kill(stopped.pid, SIGKILL)
            _ = KillHarness.waitForEnd(of: stopped.pid, timeout: 5)
        }
        p.waitUntilExit()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stopped.out)) ?? []
        #expect(!names.contains { $0.hasPrefix("manifest") }, "stage \(name) ran to its end after prep run was killed")
        let uninterrupted = outputFiles(dir + "/ref/" + name)
        for (f, bytes) in outputFiles(stopped.out) where uninterrupted[f] != bytes {
            Issue.record("\(name)/\(f): under a final name, but not the uninterrupted run's bytes")
        }
        let left = KillHarness.processes(mentioning: workdir + "/")
        #expect(left.isEmpty, "still running after prep run was killed: \(left)")
        for s in left { kill(s.pid, SIGKILL) }
        print(String(format: "prep run killed with SIGKILL while stage %@ ran; the stage ended %.3f s after the kill and left %@",
                     name, seconds, names.sorted().description))
        let rerun = try Fixtures.run(Fixtures.binDir + "/prep", ["run", file, "--set", "workdir=" + workdir, "--quiet"])
        #expect(rerun.status == 0, "\(rerun.stderr.suffix(500))")
        let got = Self.outputs(workdir), expected = Self.outputs(dir + "/ref")
        #expect(!expected.isEmpty)
        #expect(got == expected, "differs from the uninterrupted run in \(Set(got.keys).union(expected.keys).filter { got[$0] != expected[$0] }.sorted())")
        #expect(Self.leftovers(workdir).isEmpty, "\(Self.leftovers(workdir))")
    }

    /// A stage whose `prep run` died between starting it and its first line (before it could ask
    /// for the parent-death signal) stops at once, as the signal would have stopped it; one whose
    /// `prep run` lives runs. Both tools, since `prep run` starts both.
    @Test(arguments: ["prep", "tune"])
    func aStageWhosePrepRunIsGoneStopsAtOnce(tool: String) throws {
        // The variable names a process that is not the tool's parent (this test process is).
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.binDir + "/" + tool)
        p.arguments = ["--version"]
        p.environment = ProcessInfo.processInfo.environment.merging(["KILN_PREP_RUN_PID": "\(getppid())"]) { $1 }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGTERM,
                "\(tool): \(p.terminationReason == .exit ? "exit" : "signal") \(p.terminationStatus)")
        // Its parent (the shell) is the process the variable names: it runs.
        let r = try Fixtures.run("/bin/sh", ["-c", "KILN_PREP_RUN_PID=$$ \"$0\" --version; exit $?", Fixtures.binDir + "/" + tool])
        #expect(r.status == 0 && r.stdout.contains("kiln"), "\(tool): exit \(r.status): \(r.stdout) \(r.stderr)")
    }
}

/// The JSON Schemas in schemas/ against the files they describe: every pipeline, every sample
/// task, and the outputs of a real run (manifests, metrics lines, summaries).
@Suite struct SchemaTests {
    static func validate(_ schema: String, _ files: [String]) throws {
        guard let python = Fixtures.venvPython else {
            Issue.record("no venv: run `make venv` (make test does it)")
            return
        }
        let r = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/validate-json.py", Fixtures.repoRoot + "/schemas/" + schema] + files)
        #expect(r.status == 0 && r.stdout.contains(" 0 failed"), "\(schema): \(r.stdout.suffix(1500))")
    }

    @Test func shippedFilesMatchTheirSchemas() throws {
        let pipelines = try FileManager.default.contentsOfDirectory(atPath: Fixtures.repoRoot + "/pipelines")
            .filter { $0.hasSuffix(".yaml") }.map { Fixtures.repoRoot + "/pipelines/" + $0 }
        #expect(!pipelines.isEmpty)
        try Self.validate("pipeline.schema.json", pipelines)
        let tasks = Fixtures.repoRoot + "/samples/tasks"
        try Self.validate("sft-example.schema.json", ["chat", "sentiment-zh"].flatMap { ["\(tasks)/\($0)/train.jsonl", "\(tasks)/\($0)/test.jsonl"] })
    }

    /// A real run: prep and tune stages through `prep run`, every output against its schema.
    @Test func outputsOfARunMatchTheirSchemas() throws {
        let dir = Fixtures.tempDir("schemarun")
        Fixtures.write("""
            workdir: \(dir)/w
            stages:
              - {name: docs, run: prep ingest, inputs: ["\(Fixtures.samples)/text-docs.tar.gz", "\(Fixtures.samples)/records.jsonl.zst"], out: "${workdir}/docs"}
              - {name: clean, run: prep clean, inputs: ["@docs"], out: "${workdir}/clean"}
              - {name: dedup, run: prep dedup, inputs: ["@clean"], out: "${workdir}/dedup", options: {removed: "${workdir}/removed"}}
              - {name: tok, run: prep train-tokenizer, inputs: ["@dedup"], out: "${workdir}/tok", options: {vocab_size: 400}}
              - {name: tokens, run: prep tokenize, inputs: ["@dedup"], out: "${workdir}/tokens", options: {tokenizer: "@tok", val_fraction: 0.1}}
              - {name: sft, run: prep tokenize, inputs: ["\(Fixtures.repoRoot)/samples/tasks/sentiment-zh/test.jsonl"], out: "${workdir}/sft",
                 options: {tokenizer: "@tok", format: prompt-completion, val_fraction: 0.1}}
              - {name: init, run: tune init, out: "${workdir}/init.bin", options: {layers: 1, channels: 16, heads: 2, max_seq: 64, tokenizer: "@tok"}}
              - {name: train, run: tune run, out: "${workdir}/train", options: {base: "@init", data: "@sft", steps: 3, batch_size: 2, seq_len: 64, eval_every: 0, threads: 1}}
              - {name: train2, run: tune run, ranks: 2, out: "${workdir}/train2", options: {base: "@init", data: "@sft", steps: 3, batch_size: 1, seq_len: 64, eval_every: 0, threads: 1}}

            """, to: dir + "/p.yaml")
        let r = try Fixtures.prep(["run", dir + "/p.yaml", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let w = dir + "/w"
        try Self.validate("ingest-manifest.schema.json", [w + "/docs/manifest.json"])
        try Self.validate("clean-manifest.schema.json", [w + "/clean/manifest.json"])
        try Self.validate("dedup-manifest.schema.json", [w + "/dedup/manifest.json"])
        try Self.validate("train-tokenizer-manifest.schema.json", [w + "/tok/manifest.json"])
        try Self.validate("tokenize-manifest.schema.json", [w + "/tokens/manifest.json", w + "/sft/manifest.json"])
        try Self.validate("document.schema.json", Fixtures.shardFiles(w + "/dedup"))
        try Self.validate("metrics-line.schema.json", [w + "/train/metrics.jsonl", w + "/train2/metrics.jsonl"])
        try Self.validate("run-summary.schema.json", [w + "/train/summary.json", w + "/train2/summary.json"])
        try Self.validate("pipeline-summary.schema.json", [w + "/pipeline-summary.json"])
    }
}
