import ArgumentParser
import DataPrep
import Foundation

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
            rerun alone by running the pipeline again.

            Stages of `tune eval` and `tune generate` print JSON; their `out` is the file
            that receives it. At the end a run summary (each stage's status, time and
            output) is printed and written to WORKDIR/pipeline-summary.json, and a page for
            people to WORKDIR/report.html: the stage table, drop reasons per filter,
            document length and token count histograms, dedup cluster sizes and the loss
            curves, as inline SVG (open it in any browser; no server).

            EXAMPLES
              prep run pipelines/demo.yaml
              prep run pipelines/demo.yaml --dry-run
              prep run pipelines/gpt2-finetune.yaml --set data_root=/data/crawl --set base=gpt2.bin
              prep run pipelines/demo.yaml --from pretrain --force

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
            let r = try runProcess(binary(words[0]), Array(words.dropFirst()) + sub + ["--experimental-dump-help"], capture: true)
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
            var args = p.arguments(s, catalog: catalog)
            if !hasOut && catalog.commands[s.run]?.options["json"] != nil { args.append("--json") }
            let stampPath = stampDir + "/" + s.name + ".json"
            let stamp = (try? Data(contentsOf: URL(fileURLWithPath: stampPath))).flatMap { try? JSONDecoder().decode(StageStamp.self, from: $0) }
            let selected = only.map { $0 == s.name } ?? (k >= startIndex)
            let stale: String? = stamp.map { $0.staleness(s, arguments: args) } ?? "it has not run yet"
            let display = ([s.run] + args.dropFirst(s.run.split(separator: " ").count - 1)).joined(separator: " ")
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
                results.append(StageResult(name: s.name, run: s.run, status: "would run", seconds: 0, out: s.out,
                                           reason: why, arguments: args))
                log("  - \(s.name): would run (\(why)): \(display)")
                continue
            }
            log("== \(s.name): \(display)")
            let t0 = Date()
            if force && takesForce { args.append("--force") }
            if quiet && catalog.commands[s.run]?.options["quiet"] != nil { args.append("--quiet") }
            let words = s.run.split(separator: " ").map(String.init)
            let r = try runProcess(Self.binary(words[0]), args, capture: !hasOut, passOutput: !quiet && !json)
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
                try FileManager.default.createDirectory(atPath: stampDir, withIntermediateDirectories: true)
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                try e.encode(StageStamp.make(s, arguments: args.filter { $0 != "--force" && $0 != "--quiet" }))
                    .write(to: URL(fileURLWithPath: stampPath), options: .atomic)
            } else {
                failed = r.status
                log("pipeline \(p.name): stage \(s.name) failed with exit status \(r.status); fix it and run the pipeline again (finished stages are skipped)")
                break
            }
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
            lines.append(String(format: "%.1fs in all; summary: %@/pipeline-summary.json; report: %@/report.html",
                                summary.seconds, p.workdir, p.workdir))
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        // A stage's own status passes through (75: a training stage asks to be requeued).
        if failed != 0 { throw ExitCode(failed) }
    }
}

struct ProcessResult { var status: Int32; var stdout: Data }

/// Runs a program to its end. With `capture`, its standard output is returned (through a file,
/// so a large output cannot block it); otherwise it goes to ours, or nowhere unless
/// `passOutput`. Its standard error is always ours: a stage's errors must reach the log.
func runProcess(_ program: String, _ args: [String], capture: Bool, passOutput: Bool = false) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
    p.arguments = program.hasPrefix("/") ? args : [program] + args
    p.standardInput = FileHandle.nullDevice
    var tmp: String? = nil
    if capture {
        let path = NSTemporaryDirectory() + "/kiln-run-\(getpid())-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        tmp = path
    } else if !passOutput {
        p.standardOutput = FileHandle.nullDevice
    }
    try p.run()
    p.waitUntilExit()
    var out = Data()
    if let tmp {
        out = (try? Data(contentsOf: URL(fileURLWithPath: tmp))) ?? Data()
        unlink(tmp)
    }
    return ProcessResult(status: p.terminationStatus, stdout: out)
}
