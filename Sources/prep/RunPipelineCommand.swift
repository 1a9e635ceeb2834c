import ArgumentParser
import DataPrep
import Foundation
import ShardFormat
import Synchronization

struct RunPipelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline file: the whole flow as one resumable batch job.",
        discussion: """
            A pipeline file names its stages; each runs one `prep` or `tune` command with
            the same options as on the command line (snake_case keys under `options`),
            reads earlier stages' outputs as `@name`, and may use variables (`${name}`,
            from `vars`, overridden by --set name=value). Everything is checked before
            anything runs: unknown keys and options, undefined variables, references to
            later stages — each error names the file and line.

            A stage is skipped when its stamp (WORKDIR/.pipeline/NAME.json: the command
            line and the size and time of every input and output file) shows it finished
            with the same inputs and options and its output is untouched; --dry-run prints
            the plan and why each stage would run or be skipped. --force reruns (and
            passes --force to the commands that take it). A failed or killed stage is
            rerun alone by running the pipeline again. A signal to `prep run` (SIGTERM,
            SIGINT, SIGHUP, SIGUSR1) is passed on to the running stage, and `prep run`
            then exits with the stage's status (75 from a `tune run` that saved a
            checkpoint). On Linux a stage also gets SIGTERM when `prep run` dies of a
            signal it cannot pass on (SIGKILL, as the OOM killer sends), so no stage
            runs on beside the rerun; except a stage with `ranks`, which mpirun starts.

            Stages of `tune eval` and `tune generate` print JSON; their `out` is the file
            that receives it. At the end a run summary (each stage's status, time and
            output) is printed and written to WORKDIR/pipeline-summary.json, and a page for
            people to WORKDIR/report.html: the stage table, drop reasons per filter,
            document length and token count histograms, dedup cluster sizes and the loss
            curves, as inline SVG (open it in any browser; no server).

            ON A CLUSTER: SLURM
            --slurm submits the stages to Slurm instead of running them, with the same
            `prep`/`tune` binaries (absolute paths) and the same arguments, in the
            current folder. ingest, clean and tokenize become job arrays of --task-count
            tasks (default 4), each task with --task-index $SLURM_ARRAY_TASK_ID on a
            contiguous share of the sorted inputs; dedup becomes its three steps
            (signatures: array, cluster: one job, filter: array) sharing the work folder
            WORKDIR/slurm/work/STAGE; train-tokenizer and the tune stages are single jobs.
            Each job waits (--dependency=afterok:) for the stages it reads, and a failed
            one cancels those that wait for it. After each stage a small job writes its
            stamp, so the next `prep run` skips what the cluster finished. Scripts and
            submit.sh go to WORKDIR/slurm/, the jobs' logs to WORKDIR/slurm/logs/, and
            the job ids to WORKDIR/slurm/jobs.txt. Reading an output folder in name
            order gives the same documents and tokens, in the same order, as a local
            run (the shards are cut at other places: one run of shards per task).
            --print-sbatch DIR writes the scripts and DIR/submit.sh (which submits them
            in order, capturing the job ids) and submits nothing. sbatch reads
            SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT… from the environment;
            submit.sh runs $SBATCH in place of sbatch when it is set.

            EXAMPLES
              prep run pipelines/demo.yaml
              prep run pipelines/demo.yaml --dry-run
              prep run pipelines/gpt2-finetune.yaml --set data_root=/data/crawl --set base=gpt2.bin
              prep run pipelines/demo.yaml --from pretrain --force
              prep run pipelines/demo.yaml --slurm --task-count 64
              prep run pipelines/demo.yaml --print-sbatch jobs --task-count 16
              bash jobs/submit.sh

            \(ExitStatus.helpText)
            """)

    @Argument(help: "The pipeline file (YAML).") var pipeline: String
    @Option(name: .customLong("set"), help: "Override a variable: name=value (repeatable).") var assignments: [String] = []
    @Option(help: "Start at this stage (the earlier ones must be done).") var from: String?
    @Option(help: "Run only this stage.") var only: String?
    @Flag(help: "Rerun stages even when their stamps say they are up to date.") var force = false
    @Flag(help: "Print the plan and what would be skipped, and why; run nothing.") var dryRun = false
    @Flag(help: "Print the run summary as JSON on standard output.") var json = false
    @Flag(help: "Print nothing but errors (the stages' own output included).") var quiet = false
    @Flag(help: "Submit the stages to Slurm as chained batch jobs instead of running them.") var slurm = false
    @Option(help: "With --slurm or --print-sbatch: array tasks per data stage (default: \(Self.defaultTaskCount)).") var taskCount: Int?
    @Option(help: "Write the Slurm batch scripts and a submit.sh into this folder; submit nothing.") var printSbatch: String?
    @Option(help: .hidden) var writeStamp: String?

    static let defaultTaskCount = 4

    func validate() throws {
        if let n = taskCount, n < 1 { throw ValidationError("--task-count must be at least 1") }
        if taskCount != nil && !slurm && printSbatch == nil { throw ValidationError("--task-count goes with --slurm or --print-sbatch") }
        if slurm && printSbatch != nil { throw ValidationError("--slurm submits, --print-sbatch writes the scripts only: give one") }
    }

    /// The sibling binaries (`prep`, `tune`) of this one.
    static func binary(_ name: String) -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let beside = me.deletingLastPathComponent().appendingPathComponent(name).path
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : name
    }

    static let commands = ["prep ingest", "prep clean", "prep dedup", "prep train-tokenizer", "prep tokenize",
                           "tune init", "tune run", "tune eval", "tune generate", "tune export"]
    /// Commands whose options live on their default subcommand.
    static let defaultSubcommand = ["prep dedup": "run"]

    /// Each command's options, read from the command itself.
    static func catalog() throws -> CommandCatalog {
        var commands: [String: CommandCatalog.Command] = [:]
        for c in Self.commands {
            let words = c.split(separator: " ").map(String.init)
            let sub = defaultSubcommand[c].map { [$0] } ?? []
            let r = try runProcess(binary(words[0]), Array(words.dropFirst()) + sub + ["--experimental-dump-help"], capture: true,
                                   diesWithParent: true)
            guard r.status == 0 else { throw ValidationError("cannot list the options of \(c) (is \(words[0]) built?)") }
            commands[c] = try CommandCatalog.command(fromDumpHelp: r.stdout)
        }
        return CommandCatalog(commands: commands)
    }

    struct StageResult: Encodable {
        var name: String
        var run: String
        var status: String
        var exitStatus: Int32?
        var seconds: Double
        var out: String?
        var reason: String?
        var arguments: [String]
    }
    struct Summary: Encodable {
        var pipeline: String
        var name: String
        var workdir: String
        var stages: [StageResult]
        var seconds: Double
        var exitStatus: Int32
    }

    mutating func run() async throws {
        var set: [String: String] = [:]
        for a in assignments {
            guard let eq = a.firstIndex(of: "=") else { throw ValidationError("--set \(a): expected name=value") }
            set[String(a[..<eq])] = String(a[a.index(after: eq)...])
        }
        let catalog = try Self.catalog()
        let p: Pipeline
        do { p = try Pipeline.load(pipeline, set: set, catalog: catalog) } catch let e as PipelineError {
            throw ValidationError("\(e)")
        }
        for n in [from, only].compactMap({ $0 }) where !p.stages.contains(where: { $0.name == n }) {
            throw ValidationError("\(pipeline): no stage named \(n) (stages: \(p.stages.map(\.name).joined(separator: ", ")))")
        }
        let stampDir = p.workdir + "/.pipeline"
        if let name = writeStamp {
            // A Slurm job at the end of a stage: the stage finished on the cluster.
            guard let s = p.stages.first(where: { $0.name == name }) else { throw ValidationError("no stage named \(name)") }
            try Self.writeStamp(s, arguments: s.launcher + Self.localArguments(p, s, catalog: catalog), stampDir: stampDir)
            return
        }
        let submitting = slurm || printSbatch != nil
        var toSubmit: [SlurmPlan.Entry] = []
        let started = Date()
        var results: [StageResult] = []
        var failed: Int32 = 0
        let startIndex = from.flatMap { f in p.stages.firstIndex { $0.name == f } } ?? 0
        let silent = quiet || json
        let log = { (s: String) in if !silent { FileHandle.standardError.write(Data((s + "\n").utf8)) } }
        log("pipeline \(p.name) (\(pipeline)): \(p.stages.count) stages, workdir \(p.workdir)")
        for (k, s) in p.stages.enumerated() {
            let takesForce = catalog.commands[s.run]?.options["force"] == false
            let hasOut = catalog.commands[s.run]?.hasOut == true
            var args = Self.localArguments(p, s, catalog: catalog)
            let stampPath = stampDir + "/" + s.name + ".json"
            let stamp = (try? Data(contentsOf: URL(fileURLWithPath: stampPath))).flatMap { try? JSONDecoder().decode(StageStamp.self, from: $0) }
            let selected = only.map { $0 == s.name } ?? (k >= startIndex)
            // Submitted stages have not run yet when this one is checked: it must follow them.
            let upstream = submitting ? s.dependsOn.first { d in toSubmit.contains { $0.stage.name == d } } : nil
            let stale: String? = upstream.map { "@\($0) is submitted before it" }
                ?? stamp.map { $0.staleness(s, arguments: s.launcher + args) } ?? "it has not run yet"
            let display = (s.launcher + [s.run] + args.dropFirst(s.run.split(separator: " ").count - 1)).joined(separator: " ")
            if !selected {
                results.append(StageResult(name: s.name, run: s.run, status: "not selected", seconds: 0, out: s.out,
                                           reason: stale.map { "would run: \($0)" }, arguments: args))
                log("  - \(s.name): not selected\(stale.map { " (\($0))" } ?? "")")
                continue
            }
            if !force, stale == nil {
                results.append(StageResult(name: s.name, run: s.run, status: "skipped", seconds: 0, out: s.out,
                                           reason: "up to date", arguments: args))
                log("  - \(s.name): skipped (up to date)")
                continue
            }
            let why = force ? "--force" : stale!
            if dryRun {
                if submitting { toSubmit.append(SlurmPlan.Entry(stage: s, arguments: args)) }
                results.append(StageResult(name: s.name, run: s.run, status: "would run", seconds: 0, out: s.out,
                                           reason: why, arguments: args))
                log("  - \(s.name): would run (\(why)): \(display)")
                continue
            }
            if submitting {
                toSubmit.append(SlurmPlan.Entry(stage: s, arguments: args))
                results.append(StageResult(name: s.name, run: s.run, status: "submitted", seconds: 0, out: s.out,
                                           reason: why, arguments: args))
                continue
            }
            log("== \(s.name): \(display)")
            let t0 = Date()
            if force && takesForce { args.append("--force") }
            if quiet && catalog.commands[s.run]?.options["quiet"] != nil { args.append("--quiet") }
            let words = s.run.split(separator: " ").map(String.init)
            let r: ProcessResult
            if s.ranks > 1 {
                // mpirun refuses root unless told; a pipeline run as root (a container) means it.
                let root = getuid() == 0 ? ["--allow-run-as-root"] : []
                r = try runProcess("mpirun", Array(s.launcher.dropFirst()) + root + [Self.binary(words[0])] + args,
                                   capture: !hasOut, passOutput: !quiet && !json)
            } else {
                r = try runProcess(Self.binary(words[0]), args, capture: !hasOut, passOutput: !quiet && !json, diesWithParent: true)
            }
            if !hasOut, let out = s.out, r.status == 0 || r.status == 3 {
                try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                try r.stdout.write(to: URL(fileURLWithPath: out), options: .atomic)
            }
            let seconds = Date().timeIntervalSince(t0)
            // 3: some inputs had errors, the output is valid: the pipeline goes on.
            let ok = r.status == 0 || r.status == 3
            results.append(StageResult(name: s.name, run: s.run, status: ok ? "ran" : "failed", exitStatus: r.status,
                                       seconds: seconds, out: s.out, reason: why, arguments: args))
            if ok {
                try Self.writeStamp(s, arguments: s.launcher + args.filter { $0 != "--force" && $0 != "--quiet" }, stampDir: stampDir)
            } else {
                failed = r.status
                log("pipeline \(p.name): stage \(s.name) failed with exit status \(r.status); fix it and run the pipeline again (finished stages are skipped)")
                break
            }
        }
        if submitting && !dryRun {
            try submit(p, toSubmit, catalog: catalog, log: log)
            if json { FileHandle.standardOutput.write(try IngestManifest.encoder.encode(results) + Data("\n".utf8)) }
            return
        }
        let summary = Summary(pipeline: pipeline, name: p.name, workdir: p.workdir, stages: results,
                              seconds: Date().timeIntervalSince(started), exitStatus: failed == 0 ? 0 : failed)
        if !dryRun {
            let e = IngestManifest.encoder
            try? FileManager.default.createDirectory(atPath: p.workdir, withIntermediateDirectories: true)
            try e.encode(summary).write(to: URL(fileURLWithPath: p.workdir + "/pipeline-summary.json"), options: .atomic)
            let rows = results.map { PipelineReport.Row(name: $0.name, run: $0.run, status: $0.status, seconds: $0.seconds, out: $0.out) }
            try Data(PipelineReport.html(p, rows: rows).utf8).write(to: URL(fileURLWithPath: p.workdir + "/report.html"), options: .atomic)
        }
        if json {
            FileHandle.standardOutput.write(try IngestManifest.encoder.encode(summary) + Data("\n".utf8))
        } else if !quiet {
            var lines = ["", "stage            status        seconds  output"]
            for r in results {
                lines.append(r.name.padding(toLength: 16, withPad: " ", startingAt: 0) + " "
                             + r.status.padding(toLength: 12, withPad: " ", startingAt: 0)
                             + String(format: "%9.1f", r.seconds) + "  " + (r.out ?? ""))
            }
            lines.append(dryRun ? "dry run: nothing ran, nothing written"
                         : String(format: "%.1fs in all; summary: %@/pipeline-summary.json; report: %@/report.html",
                                  summary.seconds, p.workdir, p.workdir))
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        // A stage's own status passes through (75: a training stage asks to be requeued).
        if failed != 0 { throw ExitCode(failed) }
    }
}

extension RunPipelineCommand {
    /// A stage's command line as a local run gives it (and its stamp records it).
    static func localArguments(_ p: Pipeline, _ s: Pipeline.Stage, catalog: CommandCatalog) -> [String] {
        var args = p.arguments(s, catalog: catalog)
        let command = catalog.commands[s.run]
        if command?.hasOut != true && command?.options["json"] != nil { args.append("--json") }
        return args
    }

    static func writeStamp(_ s: Pipeline.Stage, arguments: [String], stampDir: String) throws {
        try FileManager.default.createDirectory(atPath: stampDir, withIntermediateDirectories: true)
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try e.encode(StageStamp.make(s, arguments: arguments))
            .write(to: URL(fileURLWithPath: stampDir + "/" + s.name + ".json"), options: .atomic)
    }

    /// --slurm and --print-sbatch: writes the batch scripts and submit.sh, and runs it for --slurm.
    func submit(_ p: Pipeline, _ entries: [SlurmPlan.Entry], catalog: CommandCatalog, log: (String) -> Void) throws {
        guard !entries.isEmpty else {
            log("pipeline \(p.name): every selected stage is up to date; nothing to submit")
            return
        }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String {
            URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        }
        let workdir = absolute(p.workdir)
        var steps: [String: CommandCatalog.Command] = [:]
        if entries.contains(where: { $0.stage.run == "prep dedup" }) {
            for step in SlurmPlan.dedupSteps {
                let r = try runProcess(Self.binary("prep"), ["dedup", step, "--experimental-dump-help"], capture: true)
                guard r.status == 0 else { throw ValidationError("cannot list the options of prep dedup \(step)") }
                steps["prep dedup " + step] = try CommandCatalog.command(fromDumpHelp: r.stdout)
            }
        }
        let prep = absolute(Self.binary("prep")), tune = absolute(Self.binary("tune"))
        for b in [prep, tune] where !FileManager.default.isExecutableFile(atPath: b) {
            throw ValidationError("\(b): not found; the jobs need the prep and tune binaries at absolute paths")
        }
        let stampCommand = [prep, "run", absolute(pipeline)] + assignments.flatMap { ["--set", $0] }
        let plan = SlurmPlan(entries: entries, catalog: catalog, stepCatalog: CommandCatalog(commands: steps),
                             settings: .init(pipelineName: p.name, prep: prep, tune: tune,
                                             taskCount: taskCount ?? Self.defaultTaskCount, directory: cwd,
                                             logDirectory: workdir + "/slurm/logs", workDirectory: workdir + "/slurm/work",
                                             stampCommand: stampCommand, force: force))
        let dir = absolute(printSbatch ?? p.workdir + "/slurm")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for j in plan.jobs {
            try Data(plan.script(j).utf8).write(to: URL(fileURLWithPath: dir + "/" + j.name + ".sbatch"), options: .atomic)
        }
        let submitPath = dir + "/submit.sh"
        try Data(plan.submitScript().utf8).write(to: URL(fileURLWithPath: submitPath), options: .atomic)
        chmod(submitPath, 0o755)
        if printSbatch != nil {
            log("pipeline \(p.name): \(plan.jobs.count) batch scripts in \(dir); submit them with: bash \(submitPath)")
            return
        }
        let r = try runProcess("/bin/bash", [submitPath], capture: true)
        let ids = String(decoding: r.stdout, as: UTF8.self)
        try r.stdout.write(to: URL(fileURLWithPath: dir + "/jobs.txt"), options: .atomic)
        guard r.status == 0 else {
            log(ids)
            throw ValidationError("\(submitPath) failed (exit status \(r.status)); the jobs it submitted are in \(dir)/jobs.txt")
        }
        log(ids.split(separator: "\n").map { "  submitted " + $0 }.joined(separator: "\n"))
        log("pipeline \(p.name): \(plan.jobs.count) jobs submitted (ids in \(dir)/jobs.txt, logs in \(workdir)/slurm/logs)")
    }
}

struct ProcessResult { var status: Int32; var stdout: Data }

/// Runs a program to its end. With `capture`, its standard output is returned (through a file,
/// so a large output cannot block it); otherwise it goes to ours, or nowhere unless
/// `passOutput`. Its standard error is always ours: a stage's errors must reach the log.
///
/// The child stays in this process's process group, so a signal to the group (Ctrl-C at a
/// terminal, `kill -- -PGID`, a batch system stopping a job) reaches the running stage too.
/// Foundation's `Process` puts every child in a group of its own: killing `prep run`'s group left
/// the stage running, writing into its output folder while the rerun wrote there too. As with
/// `Process`, the child starts with no signal blocked and keeps the signals this process ignores
/// (`nohup`), and a child killed by a signal gives the signal's number as its status.
///
/// With `diesWithParent` (a `prep` or `tune` command: only they read it), the child gets this
/// process's pid in `ParentDeath.variable` and, on Linux, SIGTERM when this process dies, even of
/// SIGKILL. Not for mpirun (it passes its environment on to the ranks, whose parent it is, so
/// they would stop at once) nor for a shell that submits batch jobs (sbatch would pass the
/// variable on to them).
func runProcess(_ program: String, _ args: [String], capture: Bool, passOutput: Bool = false,
                diesWithParent: Bool = false) throws -> ProcessResult {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    var tmp: String? = nil
    if capture {
        let path = NSTemporaryDirectory() + "/kiln-run-\(getpid())-\(UUID().uuidString)"
        posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        tmp = path
    } else if !passOutput {
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    }
    defer { if let tmp { unlink(tmp) } }
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
    let argv: [UnsafeMutablePointer<CChar>?] = ([program] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var environment = ProcessInfo.processInfo.environment
    environment[ParentDeath.variable] = diesWithParent ? String(getpid()) : nil
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0.key + "=" + $0.value) } + [nil]
    defer { envp.forEach { free($0) } }
    var pid = pid_t()
    StageSignals.install()
    // posix_spawnp looks a bare name (mpirun) up in PATH, as /usr/bin/env did.
    // This thread waits for the child, so it outlives it: Linux sends the parent-death signal
    // when the thread that started the child ends.
    let rc = posix_spawnp(&pid, program, &actions, &attr, argv, envp)
    guard rc == 0 else {
        throw ValidationError("\(program): cannot start it: \(String(cString: strerror(rc)))")
    }
    StageSignals.child.store(pid, ordering: .relaxed)
    defer { StageSignals.child.store(0, ordering: .relaxed) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw ValidationError("\(program): waitpid failed: \(String(cString: strerror(errno)))") }
    }
    // The wait status: the exit status in bits 8-15, or the signal in bits 0-6.
    let signal = status & 0x7F
    let code = signal == 0 ? (status >> 8) & 0xFF : signal
    let out = tmp.flatMap { try? Data(contentsOf: URL(fileURLWithPath: $0)) } ?? Data()
    return ProcessResult(status: code, stdout: out)
}

/// A signal sent to `prep run` alone (`kill PID`, not its process group) is passed on to the
/// stage it is running, so the stage stops as it would have (`tune run` saves a checkpoint and
/// exits 75) and `prep run` exits with the stage's status, instead of dying and leaving the stage
/// running on its own. Between stages the signal does what it would have done. Signals that this
/// process ignores (`nohup`) stay ignored. A signal to the whole group reaches the stage twice,
/// which changes nothing: each stage only notes that one came.
enum StageSignals {
    static let child = Atomic<pid_t>(0)
    private static let installed = Atomic<Bool>(false)

    static func install() {
        guard !installed.exchange(true, ordering: .relaxed) else { return }
        for s in [SIGTERM, SIGINT, SIGHUP, SIGUSR1] {
            var old = sigaction()
            sigaction(s, nil, &old)
            if unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            signal(s) { sig in
                let pid = StageSignals.child.load(ordering: .relaxed)
                if pid > 0 {
                    kill(pid, sig)
                } else {
                    signal(sig, SIG_DFL)
                    raise(sig)
                }
            }
        }
    }
}
