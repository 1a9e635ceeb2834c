import Foundation

// A pipeline as Slurm batch jobs (`prep run PIPELINE --slurm`): the same `prep` and `tune`
// commands with the same arguments as a local run, in sbatch scripts chained by
// `--dependency=afterok:`, and a submit.sh that submits them in order.
//
// The data stages that split their inputs (ingest, clean, tokenize) become job arrays of
// `--task-count` tasks, each with `--task-index $SLURM_ARRAY_TASK_ID`; dedup becomes its three
// steps (signatures: array, cluster: one job, filter: array) sharing a work folder. Each task
// takes a contiguous run of the sorted inputs and names its shards after its index, so reading
// the output folder in name order gives the documents (and tokens) in the order of a local run.
// train-tokenizer and the `tune` stages are single jobs; a `tune run` stage with `ranks: N` is one
// job of N tasks that `srun` starts as one MPI job. A `tune run` job is requeued when the run
// exits 75 (it saved a checkpoint on SIGUSR1, sent 5 minutes before the time limit, or on
// SIGTERM), and then resumes. After each stage a small job writes the stage's stamp, so a later
// `prep run` (local or --slurm) skips what the cluster finished.

public struct SlurmPlan: Sendable {
    public struct Job: Sendable, Equatable {
        /// File name without extension, also the job's name: "03-dedup-signatures".
        public var name: String
        public var stage: String
        /// Array size; nil for a single job.
        public var tasks: Int?
        /// Indices (in `jobs`) of the jobs this one waits for (afterok).
        public var after: [Int]
        public var cpus: Int?
        /// Program (absolute path) and arguments.
        public var command: [String]
        /// The file that receives the command's standard output (`tune eval`, `tune generate`).
        public var stdout: String?
        /// A stage output folder that submit.sh empties before submitting the job: shards and
        /// manifests of an earlier run with another task count would be read with the new ones.
        public var clearsFolder: String?
        /// A work folder that submit.sh removes before submitting the job.
        public var clearsWork: String?
        public var comment: String
        /// MPI processes (sbatch --ntasks, started by srun); nil for one process.
        public var ranks: Int? = nil
        /// A training run's folder: the job is requeued when the run exits 75 (it saved a
        /// checkpoint on SIGTERM/SIGUSR1), and a requeued job resumes from that checkpoint.
        public var resumes: String? = nil
    }

    /// The "requeue me" exit status of `tune run` (a checkpoint was written on a signal).
    public static let requeueStatus: Int32 = 75
    /// Seconds before the time limit at which Slurm sends SIGUSR1 to a training job's batch
    /// shell, which passes it to `tune run` so that it saves a checkpoint in time.
    public static let warningSeconds = 300

    /// How a job of several ranks starts them: srun wires them up through PMIx (Open MPI 4 and
    /// Slurm's mpi/pmix plugin; said explicitly, as a cluster's MpiDefault may be none, which
    /// would start N unconnected copies), and stops them all when one fails instead of leaving
    /// the others waiting in a sum until the time limit.
    public static let srun = ["srun", "--mpi=pmix", "--kill-on-bad-exit=1"]

    /// What the plan needs besides the stages.
    public struct Settings: Sendable {
        public var pipelineName: String
        public var prep: String
        public var tune: String
        public var taskCount: Int
        /// The folder the jobs run in: the local run's working directory, so the pipeline's
        /// relative paths mean the same.
        public var directory: String
        /// Logs go to LOGS/JOB-%A_%a.out (arrays) or LOGS/JOB-%j.out.
        public var logDirectory: String
        /// dedup's work folders go under it, one per stage.
        public var workDirectory: String
        /// `prep run PIPELINE --set …` that `--write-stamp NAME` completes.
        public var stampCommand: [String]
        public var force: Bool
        public init(pipelineName: String, prep: String, tune: String, taskCount: Int, directory: String,
                    logDirectory: String, workDirectory: String, stampCommand: [String], force: Bool) {
            self.pipelineName = pipelineName
            self.prep = prep
            self.tune = tune
            self.taskCount = taskCount
            self.directory = directory
            self.logDirectory = logDirectory
            self.workDirectory = workDirectory
            self.stampCommand = stampCommand
            self.force = force
        }
    }

    /// One stage to submit with its local command line (without the program), as the stamp
    /// records it.
    public struct Entry: Sendable {
        public var stage: Pipeline.Stage
        public var arguments: [String]
        public init(stage: Pipeline.Stage, arguments: [String]) {
            self.stage = stage
            self.arguments = arguments
        }
    }

    /// Commands run as arrays, each task on its share of the inputs.
    public static let splitCommands: Set<String> = ["prep ingest", "prep clean", "prep tokenize"]
    /// dedup's steps, as `prep dedup STEP`; their options come from `stepCatalog`.
    public static let dedupSteps = ["signatures", "cluster", "filter"]

    public var settings: Settings
    public var jobs: [Job] = []

    /// `stepCatalog` holds the options of "prep dedup signatures", "… cluster" and "… filter".
    public init(entries: [Entry], catalog: CommandCatalog, stepCatalog: CommandCatalog, settings: Settings) {
        self.settings = settings
        var lastJob: [String: Int] = [:]
        for e in entries {
            let s = e.stage
            let after = s.dependsOn.compactMap { lastJob[$0] }
            let words = s.run.split(separator: " ").map(String.init)
            let program = words[0] == "tune" ? settings.tune : settings.prep
            let cpus = s.options.first { $0.key == "threads" }.flatMap { $0.values.first.flatMap(Int.init) }
            let takesForce = catalog.commands[s.run]?.options["force"] == false
            let force = settings.force && takesForce ? ["--force"] : []
            let prefix = String(format: "%02d-", lastJob.count + 1) + s.name
            let split = ["--task-index", "$SLURM_ARRAY_TASK_ID", "--task-count", String(settings.taskCount)]
            if s.run == "prep dedup" {
                let work = settings.workDirectory + "/" + s.name
                func step(_ name: String) -> [String] {
                    var args = ["dedup", name] + (name == "cluster" ? [] : s.inputs) + ["--work", work]
                    if name == "filter", let out = s.out { args += ["--out", out] }
                    let known = stepCatalog.commands["prep dedup " + name]?.options ?? [:]
                    for (k, values) in s.options where known[k] != nil {
                        if known[k] == true { args.append("--" + k); continue }
                        for v in values { args += ["--" + k, v] }
                    }
                    return args
                }
                let sig = jobs.count
                jobs.append(Job(name: prefix + "-signatures", stage: s.name, tasks: settings.taskCount, after: after, cpus: cpus,
                                command: [program] + step("signatures") + split, stdout: nil, clearsFolder: nil,
                                clearsWork: work, comment: "dedup step 1: signatures and band hashes of this task's shards"))
                jobs.append(Job(name: prefix + "-cluster", stage: s.name, tasks: nil, after: [sig], cpus: cpus,
                                command: [program] + step("cluster"), stdout: nil, clearsFolder: nil, clearsWork: nil,
                                comment: "dedup step 2: every task's band hashes into the removal list"))
                jobs.append(Job(name: prefix + "-filter", stage: s.name, tasks: settings.taskCount, after: [sig + 1], cpus: cpus,
                                command: [program] + step("filter") + split, stdout: nil, clearsFolder: s.out, clearsWork: nil,
                                comment: "dedup step 3: this task's documents except the removed ones"))
            } else if Self.splitCommands.contains(s.run) {
                jobs.append(Job(name: prefix, stage: s.name, tasks: settings.taskCount, after: after, cpus: cpus,
                                command: [program] + e.arguments + force + split, stdout: nil, clearsFolder: s.out,
                                clearsWork: nil, comment: "\(s.run): this task's share of the inputs"))
            } else {
                let hasOut = catalog.commands[s.run]?.hasOut == true
                let ranks = s.ranks > 1 ? s.ranks : nil
                jobs.append(Job(name: prefix, stage: s.name, tasks: nil, after: after, cpus: cpus,
                                command: (ranks == nil ? [] : Self.srun) + [program] + e.arguments + force,
                                stdout: hasOut ? nil : s.out, clearsFolder: nil, clearsWork: nil,
                                comment: s.run + (ranks.map { " on \($0) MPI processes" } ?? ""), ranks: ranks,
                                resumes: s.run == "tune run" ? s.out : nil))
            }
            let last = jobs.count - 1
            lastJob[s.name] = last
            jobs.append(Job(name: prefix + "-stamp", stage: s.name, tasks: nil, after: [last], cpus: 1,
                            command: settings.stampCommand + ["--write-stamp", s.name], stdout: nil, clearsFolder: nil,
                            clearsWork: nil, comment: "the stage's stamp, so that a later prep run skips it while it is up to date"))
        }
    }

    /// Single quotes for the shell; `$SLURM_ARRAY_TASK_ID` stays a variable.
    static func quote(_ s: String) -> String {
        if s == "$SLURM_ARRAY_TASK_ID" { return "\"$SLURM_ARRAY_TASK_ID\"" }
        if !s.isEmpty && s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }) && s.unicodeScalars.allSatisfy(\.isASCII) {
            return s
        }
        return "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    public func script(_ job: Job) -> String {
        let log = settings.logDirectory + "/" + job.name + (job.tasks == nil ? "-%j.out" : "-%A_%a.out")
        var lines = ["#!/bin/bash",
                     "#SBATCH --job-name=" + Self.quote("kiln-\(settings.pipelineName)-\(job.name)"),
                     "#SBATCH --output=" + Self.quote(log),
                     "#SBATCH --chdir=" + Self.quote(settings.directory)]
        if let n = job.tasks { lines.append("#SBATCH --array=0-\(n - 1)") }
        if let n = job.ranks { lines.append("#SBATCH --ntasks=\(n)") }
        if let c = job.cpus { lines.append("#SBATCH --cpus-per-task=\(c)") }
        if job.resumes != nil {
            lines += ["#SBATCH --requeue", "#SBATCH --signal=B:USR1@\(Self.warningSeconds)"]
        }
        lines += ["# Pipeline \(settings.pipelineName), stage \(job.stage): \(job.comment).", "set -u"]
        let command = job.command.map(Self.quote).joined(separator: " ")
        if let run = job.resumes {
            let r = Self.quote(run)
            lines += ["# A requeued job (SLURM_RESTART_COUNT > 0) continues the run's newest checkpoint.",
                      "resume=",
                      "if [ \"${SLURM_RESTART_COUNT:-0}\" -gt 0 ] && ls \(r)/state_*.bin >/dev/null 2>&1; then resume=--resume; fi",
                      "# SIGUSR1 (--signal, before the time limit) or SIGTERM (preemption, scancel) reaches",
                      "# the batch shell: passed on, tune run saves a checkpoint and exits \(Self.requeueStatus).",
                      command + " $resume &",
                      "pid=$!",
                      "trap 'kill -USR1 $pid 2>/dev/null' USR1",
                      "trap 'kill -TERM $pid 2>/dev/null' TERM",
                      "status=0",
                      "wait $pid || status=$?",
                      "# wait returns early when a signal arrives: wait until the run has really exited.",
                      "while kill -0 $pid 2>/dev/null; do status=0; wait $pid || status=$?; done",
                      "if [ $status -eq \(Self.requeueStatus) ]; then",
                      "  echo \"tune run saved a checkpoint and asks to be requeued (status \(Self.requeueStatus))\" >&2",
                      "  scontrol requeue \"$SLURM_JOB_ID\" && sleep 60",
                      "fi",
                      "exit $status"]
        } else if let out = job.stdout {
            lines += ["mkdir -p " + Self.quote((out as NSString).deletingLastPathComponent),
                      command + " > " + Self.quote(out) + "\".tmp-slurm-$SLURM_JOB_ID\"",
                      "status=$?",
                      "# As in a local run: 3 means some inputs had errors and the output is valid.",
                      "if [ $status -eq 0 ] || [ $status -eq 3 ]; then mv -f " + Self.quote(out)
                        + "\".tmp-slurm-$SLURM_JOB_ID\" " + Self.quote(out) + "; exit 0; fi",
                      "rm -f " + Self.quote(out) + "\".tmp-slurm-$SLURM_JOB_ID\"",
                      "exit $status"]
        } else {
            lines += [command,
                      "status=$?",
                      "# As in a local run: 3 means some inputs had errors and the output is valid;",
                      "# the jobs that wait for this one (afterok) must run.",
                      "if [ $status -eq 3 ]; then exit 0; fi",
                      "exit $status"]
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Submits the scripts (beside it) in order and prints "JOB-NAME JOB-ID" per job. `$SBATCH`
    /// replaces `sbatch` (to add options: SBATCH="sbatch --partition=gpu"; sbatch also reads
    /// SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT from the environment).
    public func submitScript() -> String {
        var lines = ["#!/bin/bash",
                     "# Submits pipeline \(settings.pipelineName) to Slurm: each job waits (afterok) for the jobs whose outputs",
                     "# it reads, and is cancelled if one of them fails (--kill-on-invalid-dep).",
                     "set -euo pipefail",
                     "here=$(cd \"$(dirname \"$0\")\" && pwd)",
                     "SBATCH=${SBATCH:-sbatch}",
                     "mkdir -p " + Self.quote(settings.logDirectory),
                     "cd " + Self.quote(settings.directory),
                     "# A stage folder may hold an earlier run's shards and manifests (another task count, a",
                     "# local run): the next stage would read them with the new ones, so it starts empty.",
                     "clear_stage_folder() {",
                     "  if [ -d \"$1\" ] && [ -n \"$(ls -A \"$1\")\" ] && ! ls \"$1\"/manifest*.json >/dev/null 2>&1; then",
                     "    echo \"submit.sh: $1 holds files but no manifest: not a stage folder, not emptied\" >&2; exit 1",
                     "  fi",
                     "  rm -rf -- \"$1\"",
                     "}"]
        for (i, j) in jobs.enumerated() {
            if let d = j.clearsFolder { lines.append("clear_stage_folder " + Self.quote(d)) }
            if let w = j.clearsWork { lines.append("rm -rf -- " + Self.quote(w)) }
            var cmd = "job\(i)=$($SBATCH --parsable"
            if !j.after.isEmpty {
                cmd += " --kill-on-invalid-dep=yes --dependency=afterok:" + j.after.map { "${job\($0)}" }.joined(separator: ":")
            }
            cmd += " \"$here/\(j.name).sbatch\")"
            lines += [cmd, "job\(i)=${job\(i)%%;*}", "echo \(Self.quote(j.name)) \"$job\(i)\""]
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
