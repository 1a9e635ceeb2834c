import DataPrep
import Foundation
import Testing
import TestSupport

/// `prep run --slurm` and `--print-sbatch`: the scripts, and a real one-node Slurm cluster on
/// localhost whose outputs must equal a local run's. The cluster tests share one cluster, started
/// by the first of them and stopped when the suite ends; each submits first and makes its local
/// reference run while the cluster works.
@Suite(.serialized, .sharedCluster) struct SlurmTests {
    /// The suite's cluster (started on first use).
    static func cluster() throws -> LocalSlurm {
        guard let shared = SharedCluster.current else {
            throw LocalSlurm.StartError(description: "no shared cluster: the test is outside SlurmTests' .sharedCluster scope")
        }
        return try shared.get()
    }

    /// The demo pipeline's data stages on a few files of samples/raw.
    static func pipeline(raw: String) -> String {
        """
        name: slurm-demo
        workdir: out/local
        stages:
          - name: docs
            run: prep ingest
            inputs: ["\(raw)"]
            out: ${workdir}/docs
            options: {compression: zstd}
          - name: clean
            run: prep clean
            inputs: ["@docs"]
            out: ${workdir}/clean
            options: {rejected: "${workdir}/rejected"}
          - name: dedup
            run: prep dedup
            inputs: ["@clean"]
            out: ${workdir}/dedup
            options: {removed: "${workdir}/removed"}
          - name: tokenizer
            run: prep train-tokenizer
            inputs: ["@dedup"]
            out: ${workdir}/tokenizer
            options: {vocab_size: 600}
          - name: tokens
            run: prep tokenize
            inputs: ["@dedup"]
            out: ${workdir}/tokens
            options: {tokenizer: "@tokenizer", val_fraction: 0.1, shard_tokens: 20000}

        """
    }

    /// A folder with a pipeline file and a few raw inputs (more files than tasks).
    static func fixture() throws -> String {
        let dir = URL(fileURLWithPath: Fixtures.tempDir("slurm-pipe")).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: dir + "/raw", withIntermediateDirectories: true)
        for f in ["crawl.warc.gz", "pages.zip", "records.jsonl.zst", "text-docs.tar.gz", "web-c4.jsonl.gz",
                  "zh-big5.txt", "zh-gb18030.txt"] {
            try FileManager.default.copyItem(atPath: Fixtures.samples + "/" + f, toPath: dir + "/raw/" + f)
        }
        Fixtures.write(pipeline(raw: dir + "/raw"), to: dir + "/p.yaml")
        return dir
    }

    @Test func printSbatchWritesChainedScripts() throws {
        let dir = try Self.fixture()
        let r = try Fixtures.prep(["run", "p.yaml", "--print-sbatch", dir + "/jobs", "--task-count", "3"], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/jobs").sorted()
        #expect(names == ["01-docs-stamp.sbatch", "01-docs.sbatch", "02-clean-stamp.sbatch", "02-clean.sbatch",
                          "03-dedup-cluster.sbatch", "03-dedup-filter.sbatch", "03-dedup-signatures.sbatch",
                          "03-dedup-stamp.sbatch", "04-tokenizer-stamp.sbatch", "04-tokenizer.sbatch",
                          "05-tokens-stamp.sbatch", "05-tokens.sbatch", "submit.sh"])
        func read(_ n: String) -> String { String(decoding: Fixtures.read(dir + "/jobs/" + n), as: UTF8.self) }
        let docs = read("01-docs.sbatch")
        #expect(docs.contains("#SBATCH --array=0-2"))
        #expect(docs.contains("\n/"))
        #expect(docs.contains("/prep ingest " + dir + "/raw --out out/local/docs --compression zstd"
                              + " --task-index \"$SLURM_ARRAY_TASK_ID\" --task-count 3"), "\(docs)")
        #expect(docs.contains("#SBATCH --chdir=" + dir))
        #expect(docs.contains("#SBATCH --output=" + dir + "/out/local/slurm/logs/01-docs-%A_%a.out"))
        #expect(read("03-dedup-signatures.sbatch").contains("prep dedup signatures out/local/clean --work "
                                                            + dir + "/out/local/slurm/work/dedup --task-index"))
        #expect(read("03-dedup-cluster.sbatch").contains("prep dedup cluster --work " + dir + "/out/local/slurm/work/dedup\n"))
        #expect(!read("03-dedup-cluster.sbatch").contains("--array"))
        #expect(read("03-dedup-filter.sbatch").contains("--out out/local/dedup --removed out/local/removed --task-index"))
        #expect(!read("04-tokenizer.sbatch").contains("--array"))
        #expect(read("05-tokens-stamp.sbatch").contains("/prep run " + dir + "/p.yaml --write-stamp tokens"))
        let submit = read("submit.sh")
        // Each stage waits for the stages it reads; dedup's steps wait for each other.
        for line in ["job1=$($SBATCH --parsable --kill-on-invalid-dep=yes --dependency=afterok:${job0} \"$here/01-docs-stamp.sbatch\")",
                     "job2=$($SBATCH --parsable --kill-on-invalid-dep=yes --dependency=afterok:${job0} \"$here/02-clean.sbatch\")",
                     "job5=$($SBATCH --parsable --kill-on-invalid-dep=yes --dependency=afterok:${job4} \"$here/03-dedup-cluster.sbatch\")",
                     "job6=$($SBATCH --parsable --kill-on-invalid-dep=yes --dependency=afterok:${job5} \"$here/03-dedup-filter.sbatch\")",
                     "job10=$($SBATCH --parsable --kill-on-invalid-dep=yes --dependency=afterok:${job6}:${job8} \"$here/05-tokens.sbatch\")"] {
            #expect(submit.contains(line), "\(line)\n\(submit)")
        }
        #expect(try Fixtures.run("/bin/bash", ["-n", dir + "/jobs/submit.sh"]).status == 0)
        // --help shows the options and examples of them.
        let help = try Fixtures.prep(["run", "--help"]).stdout
        for s in ["--slurm", "--task-count", "--print-sbatch", "prep run pipelines/demo.yaml --slurm --task-count 64",
                  "--print-sbatch jobs --task-count 16"] {
            #expect(help.contains(s), "\(s)")
        }
        // --task-count alone is a mistake.
        #expect(try Fixtures.prep(["run", "p.yaml", "--task-count", "3", "--dry-run"], cwd: dir).status == 2)
    }

    /// The shipped two-rank pipeline: its training stage is one job of 2 tasks that srun starts
    /// as one MPI job (PMIx), stopped whole if a task fails.
    @Test func aRankedTrainingStageIsOneSrunJob() throws {
        let dir = Fixtures.tempDir("slurm-ranks")
        let r = try Fixtures.prep(["run", Fixtures.repoRoot + "/pipelines/pretrain-2ranks.yaml", "--print-sbatch", dir + "/jobs",
                                   "--set", "workdir=" + dir + "/w"], cwd: Fixtures.repoRoot)
        #expect(r.status == 0, "\(r.stderr)")
        let script = String(decoding: Fixtures.read(dir + "/jobs/07-pretrain.sbatch"), as: UTF8.self)
        #expect(script.contains("#SBATCH --ntasks=2\n#SBATCH --cpus-per-task=1\n"), "\(script)")
        #expect(script.contains("\nsrun --mpi=pmix --kill-on-bad-exit=1 /") && script.contains("/tune run --out " + dir + "/w/pretrain"),
                "\(script)")
        // Requeued when the run exits 75 after a signal; a requeued job resumes.
        #expect(script.contains("#SBATCH --requeue\n#SBATCH --signal=B:USR1@300\n") && script.contains(" $resume &\n")
                && script.contains("scontrol requeue \"$SLURM_JOB_ID\""), "\(script)")
        let stamp = String(decoding: Fixtures.read(dir + "/jobs/07-pretrain-stamp.sbatch"), as: UTF8.self)
        #expect(!stamp.contains("--ntasks") && !stamp.contains("srun"))
        #expect(!String(decoding: Fixtures.read(dir + "/jobs/06-init.sbatch"), as: UTF8.self).contains("srun"))
    }

    /// The training tests' inputs, made once: the sample docs → a tokenizer (vocabulary 300) →
    /// tokens (`DIR/tokens`) → a tiny model (`DIR/init.bin`). The data stages and `tune init` as
    /// Slurm jobs are covered by `clusterRunMatchesLocalRun` and the scripts tests.
    static let trainingInputs: Result<String, Error> = Result {
        let dir = URL(fileURLWithPath: Fixtures.tempDir("slurm-train-in")).standardizedFileURL.path
        Fixtures.write("""
            name: slurm-train-inputs
            workdir: \(dir)
            stages:
              - {name: docs, run: prep ingest, inputs: ["\(Fixtures.samples)/text-docs.tar.gz"], out: "${workdir}/docs"}
              - {name: tok, run: prep train-tokenizer, inputs: ["@docs"], out: "${workdir}/tok", options: {vocab_size: 300}}
              - {name: tokens, run: prep tokenize, inputs: ["@docs"], out: "${workdir}/tokens", options: {tokenizer: "@tok"}}
              - {name: init, run: tune init, out: "${workdir}/init.bin", options: {layers: 1, channels: 16, heads: 2, max_seq: 16, tokenizer: "@tok"}}

            """, to: dir + "/inputs.yaml")
        let r = try Fixtures.prep(["run", dir + "/inputs.yaml", "--quiet"])
        guard r.status == 0 else { throw LocalSlurm.StartError(description: "the training inputs: \(r.stderr)") }
        return dir
    }

    /// p.yaml: the stage `train` (YAML of a stage list item) reading the shared inputs, whose
    /// folder replaces INPUTS.
    static func writeTrainingPipeline(_ dir: String, name: String, train: String) throws {
        let inputs = try trainingInputs.get()
        Fixtures.write("""
            name: \(name)
            workdir: out/local
            stages:
            \(train.replacingOccurrences(of: "INPUTS", with: inputs))

            """, to: dir + "/p.yaml")
    }

    /// Submits p.yaml to the cluster with workdir=out/slurm; each submitted job as [name, id].
    static func submit(_ dir: String, cluster: LocalSlurm) throws -> [[String]] {
        let submitted = try Fixtures.prep(["run", "p.yaml", "--slurm", "--task-count", "1", "--set", "workdir=out/slurm"],
                                          cwd: dir, env: cluster.environment)
        try #require(submitted.status == 0, "\(submitted.stderr)\n\(cluster.logs())")
        return String(decoding: Fixtures.read(dir + "/out/slurm/slurm/jobs.txt"), as: UTF8.self)
            .split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
    }

    /// Every job's log under out/slurm, for a failure message.
    static func jobLogs(_ dir: String) -> String {
        (try? FileManager.default.contentsOfDirectory(atPath: dir + "/out/slurm/slurm/logs").sorted()
            .map { "--- \($0)\n" + String(decoding: Fixtures.read(dir + "/out/slurm/slurm/logs/" + $0), as: UTF8.self) }
            .joined(separator: "\n")) ?? ""
    }

    /// A `ranks: 2` training stage through the one-node cluster: srun starts the two ranks as one
    /// MPI job (PMIx), and they take exactly the steps that mpirun's two ranks take locally.
    @Test(.timeLimit(.minutes(10))) func rankedTrainingRunsUnderSrun() throws {
        let dir = URL(fileURLWithPath: Fixtures.tempDir("slurm-mpi")).standardizedFileURL.path
        try Self.writeTrainingPipeline(dir, name: "slurm-mpi", train: """
              - name: train
                run: tune run
                ranks: 2
                out: ${workdir}/train
                options: {base: "INPUTS/init.bin", data: "INPUTS/tokens", steps: 4, batch_size: 2, seq_len: 16, eval_every: 0, threads: 1}
            """)
        let cluster = try Self.cluster()
        let ids = try Self.submit(dir, cluster: cluster).compactMap(\.last)
        defer { cluster.cancel(ids) }
        let local = try Fixtures.prep(["run", "p.yaml", "--quiet"], cwd: dir)
        try #require(local.status == 0, "\(local.stderr)")
        let states = try cluster.wait(for: ids, timeout: 300)
        let logs = Self.jobLogs(dir)
        try #require(states.allSatisfy { $0.value == "COMPLETED" }, "job states: \(states)\n\(logs)\n\(cluster.logs())")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/slurm/train/summary.json"))) as? [String: Any]
        #expect(summary?["ranks"] as? Int == 2, "\(logs)")
        let a = Fixtures.read(dir + "/out/local/train/model_00000004.bin"), b = Fixtures.read(dir + "/out/slurm/train/model_00000004.bin")
        #expect(!a.isEmpty && a == b, "the weights after srun's 2 ranks differ from mpirun's")
    }

    /// A training job whose batch shell gets SIGUSR1 (what `--signal` sends before the time
    /// limit): `tune run` saves a checkpoint and exits 75, the job is requeued, and the requeued
    /// job resumes, ending with the weights of an uninterrupted local run.
    @Test(.timeLimit(.minutes(10))) func aSignalledTrainingJobIsRequeuedAndResumes() throws {
        let dir = URL(fileURLWithPath: Fixtures.tempDir("slurm-requeue")).standardizedFileURL.path
        try Self.writeTrainingPipeline(dir, name: "slurm-requeue", train: """
              - name: train
                run: tune run
                out: ${workdir}/train
                options: {base: "INPUTS/init.bin", data: "INPUTS/tokens", steps: 120, batch_size: 2, seq_len: 16, eval_every: 0, save_every: 0, threads: 1}
            """)
        let cluster = try Self.cluster()
        let jobs = try Self.submit(dir, cluster: cluster)
        let ids = jobs.compactMap(\.last)
        defer { cluster.cancel(ids) }
        let train = try #require(jobs.first { $0.first?.hasSuffix("-train") == true }?.last)
        // Signal the batch shell once the run has taken a few steps.
        let metrics = dir + "/out/slurm/train/metrics.jsonl"
        let deadline = Date().addingTimeInterval(240)
        while Date() < deadline, String(decoding: Fixtures.read(metrics), as: UTF8.self).split(separator: "\n").count < 3 {
            usleep(200_000)
        }
        let signalled = try Fixtures.run("/usr/bin/scancel", ["--signal=USR1", "--batch", train], env: cluster.environment)
        #expect(signalled.status == 0, "\(signalled.stderr)")
        // The uninterrupted run, while the requeued job waits to start again.
        let local = try Fixtures.prep(["run", "p.yaml", "--quiet"], cwd: dir)
        try #require(local.status == 0, "\(local.stderr)")
        let states = try cluster.wait(for: ids, timeout: 300)
        let logs = Self.jobLogs(dir)
        try #require(states.allSatisfy { $0.value == "COMPLETED" }, "job states: \(states)\n\(logs)\n\(cluster.logs())")
        let show = try Fixtures.run("/usr/bin/scontrol", ["show", "job", "-o", train], env: cluster.environment).stdout
        #expect(show.contains(" Restarts=1 "), "the training job was not requeued: \(show)\n\(logs)")
        let a = Fixtures.read(dir + "/out/local/train/model_00000120.bin"), b = Fixtures.read(dir + "/out/slurm/train/model_00000120.bin")
        #expect(!a.isEmpty && a == b, "the requeued run's weights differ from an uninterrupted run's\n\(logs)")
    }

    /// ingest → clean → dedup → train-tokenizer → tokenize through a one-node Slurm cluster with 3
    /// tasks per data stage gives the documents, tokenizer and tokens of a local run.
    @Test(.timeLimit(.minutes(15))) func clusterRunMatchesLocalRun() throws {
        let dir = try Self.fixture()
        let cluster = try Self.cluster()
        let submitted = try Fixtures.prep(["run", "p.yaml", "--slurm", "--task-count", "3", "--set", "workdir=out/slurm"],
                                          cwd: dir, env: cluster.environment)
        try #require(submitted.status == 0, "\(submitted.stderr)\n\(cluster.logs())")
        let ids = String(decoding: Fixtures.read(dir + "/out/slurm/slurm/jobs.txt"), as: UTF8.self)
            .split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
        defer { cluster.cancel(ids) }
        try #require(ids.count == 12, "\(submitted.stderr)")
        let local = try Fixtures.prep(["run", "p.yaml", "--quiet"], cwd: dir)
        try #require(local.status == 0, "\(local.stderr)")
        let states = try cluster.wait(for: ids, timeout: 600)
        let slurmLogs = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/out/slurm/slurm/logs").sorted()
            .map { "--- \($0)\n" + String(decoding: Fixtures.read(dir + "/out/slurm/slurm/logs/" + $0), as: UTF8.self) }
            .joined(separator: "\n")) ?? ""
        try #require(states.allSatisfy { $0.value == "COMPLETED" }, "job states: \(states)\n\(slurmLogs)\n\(cluster.logs())")

        let a = dir + "/out/local", b = dir + "/out/slurm"
        // The split stages wrote one manifest per task.
        for stage in ["docs", "clean", "dedup", "tokens"] {
            let manifests = try FileManager.default.contentsOfDirectory(atPath: b + "/" + stage).filter { $0.hasPrefix("manifest") }.sorted()
            #expect(manifests == ["manifest-00000.json", "manifest-00001.json", "manifest-00002.json"], "\(stage)")
        }
        // Documents: the JSON lines of the shards read in name order, byte for byte.
        for stage in ["docs", "clean", "rejected", "dedup", "removed"] {
            let x = try Self.documentLines(a + "/" + stage), y = try Self.documentLines(b + "/" + stage)
            #expect(!x.isEmpty || stage == "removed" || stage == "rejected", "\(stage) is empty")
            // Outside #expect, which would print both arrays of bytes.
            let firstDifference = x.indices.first { $0 >= y.count || x[$0] != y[$0] } ?? (x.count == y.count ? nil : x.count)
            #expect(firstDifference == nil, "\(stage): \(x.count) lines locally, \(y.count) on Slurm; they differ from line \(firstDifference ?? 0)")
        }
        // The tokenizer: every file but the manifest (timings, paths).
        for f in try FileManager.default.contentsOfDirectory(atPath: a + "/tokenizer") where f != "manifest.json" {
            let same = Fixtures.read(a + "/tokenizer/" + f) == Fixtures.read(b + "/tokenizer/" + f)
            #expect(same, "tokenizer/\(f) differs")
        }
        // Tokens: each split's token stream (the shards' tokens in name order) and its width.
        for split in ["train", "val"] {
            let x = try Self.tokenStream(a + "/tokens", split), y = try Self.tokenStream(b + "/tokens", split)
            #expect(!x.tokens.isEmpty, "\(split) is empty")
            let same = x.magic == y.magic && x.tokens == y.tokens
            #expect(same, "\(split): \(x.tokens.count) bytes of tokens locally, \(y.tokens.count) on Slurm")
        }
        // The stamps the cluster wrote hold: a local rerun skips every stage.
        let rerun = try Fixtures.prep(["run", "p.yaml", "--set", "workdir=out/slurm", "--dry-run"], cwd: dir)
        #expect(rerun.status == 0)
        #expect(rerun.stderr.components(separatedBy: "skipped (up to date)").count - 1 == 5, "\(rerun.stderr)")
        // And so does a second --slurm run: nothing to submit.
        let again = try Fixtures.prep(["run", "p.yaml", "--slurm", "--task-count", "3", "--set", "workdir=out/slurm"],
                                      cwd: dir, env: cluster.environment)
        #expect(again.status == 0 && again.stderr.contains("nothing to submit"), "\(again.stderr)")
    }

    /// The JSON lines of a folder's document shards, in name order.
    static func documentLines(_ dir: String) throws -> [[UInt8]] {
        try Fixtures.shardFiles(dir).flatMap { try Fixtures.jsonLines($0) }
    }

    /// A split's token shards in name order: the magic of the first and every token's bytes.
    static func tokenStream(_ dir: String, _ split: String) throws -> (magic: [UInt8], tokens: [UInt8]) {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasPrefix(split + "_") && $0.hasSuffix(".bin") }.sorted()
        var magic: [UInt8] = [], tokens: [UInt8] = []
        for f in files {
            let bytes = Fixtures.read(dir + "/" + f)
            guard bytes.count >= 1024 else { throw LocalSlurm.StartError(description: "\(f): shorter than its header") }
            if magic.isEmpty { magic = Array(bytes[0..<8]) }
            tokens += bytes[1024...]
        }
        return (magic, tokens)
    }
}

/// A one-node Slurm cluster on localhost, as root: munged, slurmctld and slurmd in the
/// foreground, with their configuration, state, spool and logs in a temporary folder
/// (proctrack/linuxproc, task/none: no cgroups, so it runs in a container). Installs slurmctld,
/// slurmd and munge when missing.
final class LocalSlurm: @unchecked Sendable {
    let dir: String
    var environment: [String: String] { ["SLURM_CONF": dir + "/slurm.conf"] }
    /// The daemons we started, last first when stopping.
    private var daemons: [(name: String, pid: pid_t)] = []

    private init(dir: String) { self.dir = dir }

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    static func start() throws -> LocalSlurm {
        guard getuid() == 0 else {
            throw StartError(description: "the Slurm test runs slurmd and slurmctld as root; run it as root")
        }
        if !["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/sbin/mungekey", "/usr/bin/sbatch"].allSatisfy({
            FileManager.default.isExecutableFile(atPath: $0)
        }) {
            let r = try Fixtures.run("/bin/bash", [Fixtures.repoRoot + "/scripts/deps.sh", "test"])
            guard r.status == 0 else { throw StartError(description: "scripts/deps.sh test failed:\n\(r.stderr)") }
        }
        let s = LocalSlurm(dir: URL(fileURLWithPath: Fixtures.tempDir("slurm")).standardizedFileURL.path)
        do { try s.launch() } catch {
            s.stop()
            throw StartError(description: "the Slurm cluster did not start: \(error)\n\(s.logs())")
        }
        return s
    }

    /// Starts a daemon in the foreground with its output in log/NAME.out. Not through
    /// Foundation's Process: its children inherit a mask that blocks SIGTERM, and waiting for a
    /// program that forks a daemon never ends.
    private func spawn(_ path: String, _ args: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let name = (path as NSString).lastPathComponent
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, dir + "/log/" + name + ".out", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGCHLD] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { throw StartError(description: "\(path): posix_spawn failed: \(String(cString: strerror(rc)))") }
        daemons.append((name, pid))
        // A daemon that stops at once (bad configuration, port taken) says why in its log.
        usleep(300_000)
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            daemons.removeLast()
            throw StartError(description: "\(name) exited at once (wait status \(status))")
        }
    }

    private func launch() throws {
        chmod(dir, 0o755)
        for d in ["munge", "state", "spool", "log"] {
            try FileManager.default.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: true)
        }
        chmod(dir + "/munge", 0o755)
        let key = dir + "/munge/munge.key"
        let r = try Fixtures.run("/usr/sbin/mungekey", ["--create", "--keyfile=" + key])
        guard r.status == 0 else { throw StartError(description: "mungekey: \(r.stderr)") }
        chmod(key, 0o600)
        // --force: munged refuses to run as root without it.
        try spawn("/usr/sbin/munged", ["--foreground", "--force", "--key-file=" + key, "--socket=" + dir + "/munge/munge.sock",
                                       "--pid-file=" + dir + "/munge/munged.pid", "--log-file=" + dir + "/log/munged.log",
                                       "--seed-file=" + dir + "/munge/seed"])
        // Ports of our own, so a test cluster does not meet another one on this machine.
        // Scheduling without Slurm's default waits (they made up most of this suite's time):
        // batch_sched_delay=0 schedules a job whose dependency ended now, not up to 3 s later
        // (once per step of a chain); a requeued job may start again only cred_expire + 1 s after
        // the requeue (default 120) and only at a pass of the main scheduler (sched_interval,
        // default 60 s), which made the requeue test wait about 165 s. cred_expire is also the
        // lifetime of a job's launch credential (slurm.conf(5): long enough to load the user's
        // environment and run the prolog); 10 s leaves room for a slow launch on a loaded machine.
        let port = 20000 + Int.random(in: 0..<20000) * 2
        let conf = """
            ClusterName=kilntest
            SlurmctldHost=localhost
            SlurmUser=root
            SlurmdUser=root
            SlurmctldPort=\(port)
            SlurmdPort=\(port + 1)
            AuthType=auth/munge
            AuthInfo=socket=\(dir)/munge/munge.sock,cred_expire=10
            CredType=cred/munge
            StateSaveLocation=\(dir)/state
            SlurmdSpoolDir=\(dir)/spool
            SlurmctldPidFile=\(dir)/slurmctld.pid
            SlurmdPidFile=\(dir)/slurmd.pid
            SlurmctldLogFile=\(dir)/log/slurmctld.log
            SlurmdLogFile=\(dir)/log/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            JobCompType=jobcomp/none
            SchedulerType=sched/builtin
            SchedulerParameters=batch_sched_delay=0,sched_interval=1
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            ReturnToService=2
            MinJobAge=3600
            MpiDefault=none
            NodeName=localhost CPUs=2 RealMemory=1000 State=UNKNOWN
            PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP

            """
        Fixtures.write(conf, to: dir + "/slurm.conf")
        try spawn("/usr/sbin/slurmctld", ["-D", "-i", "-f", dir + "/slurm.conf"])
        try spawn("/usr/sbin/slurmd", ["-D", "-N", "localhost", "-f", dir + "/slurm.conf"])
        let deadline = Date().addingTimeInterval(60)
        var state = ""
        while Date() < deadline {
            let s = try Fixtures.run("/usr/bin/sinfo", ["-h", "-N", "-o", "%T"], env: environment)
            state = s.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + s.stderr
            if s.status == 0 && state == "idle" { return }
            usleep(500_000)
        }
        throw StartError(description: "the node is not idle after 60 s (sinfo: \(state))")
    }

    /// Waits until none of the jobs is pending or running; returns each job's (or array task's) state.
    func wait(for ids: [String], timeout: TimeInterval) throws -> [String: String] {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            var states: [String: String] = [:]
            for id in ids {
                let r = try Fixtures.run("/usr/bin/scontrol", ["show", "job", "-o", id], env: environment)
                for line in r.stdout.split(separator: "\n") {
                    let fields = Dictionary(line.split(separator: " ").compactMap { f -> (String, String)? in
                        guard let eq = f.firstIndex(of: "=") else { return nil }
                        return (String(f[..<eq]), String(f[f.index(after: eq)...]))
                    }, uniquingKeysWith: { a, _ in a })
                    let task = fields["ArrayTaskId"].map { "_" + $0 } ?? ""
                    states[(fields["JobId"] ?? id) + task + " " + (fields["JobName"] ?? "")] = fields["JobState"] ?? "?"
                }
                if r.status != 0 { states[id] = "UNKNOWN (\(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)))" }
            }
            let active: Set<String> = ["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"]
            if !states.values.contains(where: { active.contains($0) }) { return states }
            // A node that cannot run jobs (slurmstepd failed: cgroups, credentials) is drained,
            // and the jobs would wait for ever.
            let node = try Fixtures.run("/usr/bin/sinfo", ["-h", "-N", "-o", "%T %E"], env: environment).stdout
            if node.hasPrefix("drain") || node.hasPrefix("down") {
                throw StartError(description: "the node cannot run jobs (sinfo: \(node.trimmingCharacters(in: .whitespacesAndNewlines))): \(states)\n\(logs())")
            }
            if Date() > deadline { throw StartError(description: "the jobs did not finish in \(Int(timeout)) s: \(states)\n\(logs())") }
            usleep(1_000_000)
        }
    }

    /// Cancels the jobs (those of a test that failed before they ended; a no-op for ended ones),
    /// so that they do not hold the shared node for the tests after it.
    func cancel(_ ids: [String]) {
        guard !ids.isEmpty else { return }
        _ = try? Fixtures.run("/usr/bin/scancel", ids, env: environment)
    }

    /// The daemons' logs, for a failure message.
    func logs() -> String {
        ["munged.log", "slurmctld.log", "slurmd.log", "munged.out", "slurmctld.out", "slurmd.out"].map { name in
            let text = String(decoding: Fixtures.read(dir + "/log/" + name), as: UTF8.self)
            return "--- \(dir)/log/\(name) (last 40 lines)\n" + text.split(separator: "\n").suffix(40).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    /// Stops the daemons we started (by their pids), slurmd and slurmctld first.
    func stop() {
        // Jobs left by a failure: their processes would outlive slurmd.
        if daemons.count == 3 {
            _ = try? Fixtures.run("/usr/bin/scancel", ["--user=root"], env: environment)
            usleep(1_000_000)
        }
        for (_, pid) in daemons.reversed() {
            var status: Int32 = 0
            func gone(within seconds: Double) -> Bool {
                let deadline = Date().addingTimeInterval(seconds)
                repeat {
                    if waitpid(pid, &status, WNOHANG) == pid { return true }
                    usleep(100_000)
                } while Date() < deadline
                return false
            }
            kill(pid, SIGTERM)
            if !gone(within: 10) {
                kill(pid, SIGKILL)
                _ = gone(within: 5)
            }
        }
        daemons = []
    }
}

/// The cluster that SlurmTests' tests share: started by the first test that asks for it (a
/// start that failed fails every test that asks, at once), stopped at the end of the suite.
final class SharedCluster: @unchecked Sendable {
    @TaskLocal static var current: SharedCluster?

    private let lock = NSLock()
    private var started: Result<LocalSlurm, Error>?

    func get() throws -> LocalSlurm {
        lock.lock(); defer { lock.unlock() }
        if started == nil { started = Result { try LocalSlurm.start() } }
        return try started!.get()
    }

    func stop() {
        lock.lock(); defer { lock.unlock() }
        if case let .success(cluster)? = started { cluster.stop() }
        started = nil
    }
}

/// Gives a suite one `SharedCluster` for all its tests.
struct SharedClusterTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let shared = SharedCluster()
        defer { shared.stop() }
        try await SharedCluster.$current.withValue(shared) { try await function() }
    }
}

extension Trait where Self == SharedClusterTrait {
    static var sharedCluster: Self { Self() }
}
