import ArgumentParser
import FineTuning
import Foundation
import GPTModel
import MessagePassing
import ShardFormat

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Fine-tune (or continue pretraining) a GPT-2-style checkpoint on token shards.",
        discussion: """
            --data is a folder made by `prep tokenize` (its train_*.bin; val_*.bin are the
            validation split) or a glob of plain llm.c shards ('dir/train_*.bin', with
            --val-data 'dir/val_*.bin'). Shards with loss masks (prep tokenize --format
            chat|alpaca|prompt-completion) train supervised: only answer tokens count, and
            examples are packed into rows with attention kept inside each (--packing
            padded gives one example per row). Plain shards train on every token, in
            windows of --seq-len + 1 tokens (--data-order llmc reads them exactly as
            llm.c's loader does).

            The tokenizer of the data must be the checkpoint's: a Kiln data folder and a
            checkpoint written by `tune init`/`tune run` carry its fingerprint, and a
            mismatch stops the run; otherwise only the vocabulary is checked, with a
            warning. Every token id is checked against the vocabulary.

            The optimiser is AdamW with decoupled weight decay (none on biases and
            LayerNorm unless --decay-all, llm.c's CPU behaviour); the learning rate warms
            up linearly, then follows --schedule to --min-lr-fraction of its peak.
            Gradient accumulation normalises by the trained tokens of the whole step, so
            B×accum equals a batch of B·accum.

            RUN gets metrics.jsonl (one JSON line per step), loss.svg, model_<step>.bin
            (llm.c files; the newest --keep are kept) with state_<step>.bin (optimizer,
            step, data position) and summary.json. --resume RUN continues the newest
            checkpoint bit for bit.

            LoRA (--lora-rank r --lora-alpha a --lora-targets qkv,attn-proj,fc,fc-proj):
            only rank-r adapters are trained (AdamW keeps moments for them alone); RUN
            gets adapter_<step>.safetensors in PEFT's layout with adapter_config.json
            instead of model files. `tune eval`, `generate` and `export --merge-lora`
            read them merged into their base model. SIGTERM, SIGINT and SIGUSR1 write a checkpoint and
            exit with status 75.

            ON SEVERAL PROCESSES OR MACHINES: MPI
            Started by Open MPI's mpirun (or srun under Slurm), N processes train one
            model together: each reads its own --batch-size rows of every step (the rows
            one process with --batch-size N×B would read, in the same order, fixed by
            --seed and N; --data-order llmc keeps llm.c's per-rank order instead), and
            the step's trained tokens, gradients and loss are summed over the processes
            before clipping and the AdamW update (MPI_Iallreduce of each layer's
            gradients as soon as the backward pass is done with it, while the layers
            below are computed; --no-overlap sums them all after the backward). So N
            processes of batch B follow the loss curve of one process of batch N×B, up
            to the order of the floating-point sums. Rank 0 alone writes RUN; every rank
            reads it to --resume, on the same number of processes. A signal to any
            process stops all of them after the same step with a checkpoint and status
            75; a process that dies makes the launcher stop the others. --threads defaults to the cores
            divided by the processes on the machine. metrics.jsonl gets each step's
            communication_seconds, summary.json the ranks and the communication
            fraction. Without mpirun or srun, tune run is a single process and MPI is
            not started. As root, mpirun needs --allow-run-as-root; see the README for
            several machines with a hostfile.

            EXAMPLES
              tune run --base out/base.bin --data out/sft-chat --out out/run \\
                  --steps 200 --batch-size 8 --seq-len 256 --lr 3e-4
              tune run --base gpt2_124M.bin --data 'fineweb/train_*.bin' \\
                  --val-data 'fineweb/val_*.bin' --out run --lr 1e-4 --weight-decay 0 \\
                  --schedule constant --grad-clip 0 --data-order llmc
              tune run --resume out/run --base out/base.bin --data out/sft-chat --out out/run
              tune run --config run.yaml --base out/base.bin --data out/sft --out out/run
              tune run --base gpt2.bin --data out/sft --out out/lora --lora-rank 8 --lora-alpha 16
              mpirun -np 2 tune run --base out/base.bin --data out/tokens --out out/run \\
                  --steps 200 --batch-size 8      # the steps of --batch-size 16 on one process
              mpirun -np 8 --hostfile hosts tune run --base gpt2.bin --data /shared/tok --out /shared/run

            \(ExitStatus.helpText)
            """)

    @Option(help: "The checkpoint to start from: an llm.c .bin, or an HF folder / .safetensors.")
    var base: String

    @Option(help: "Token shards: a `prep tokenize` folder or a glob of llm.c shards.")
    var data: String

    @Option(help: "Validation shards (default: the data folder's val_*.bin).")
    var valData: String?

    @Option(name: .long, help: "The run folder.")
    var out: String

    @Flag(help: "Continue the newest checkpoint in --out, with the options it was started with.")
    var resume = false

    @Option(help: "A YAML file of options (snake_case keys, e.g. batch_size: 8); flags override it.")
    var config: String?

    @Option(help: "Optimisation steps (default: \(TrainOptions.defaults.steps)).") var steps: Int?
    @Option(help: "Rows per micro-batch, B (default: \(TrainOptions.defaults.batchSize)).") var batchSize: Int?
    @Option(help: "Positions per row, T (default: \(TrainOptions.defaults.seqLen); at most the model's).") var seqLen: Int?
    @Option(help: "Micro-batches per step (default: \(TrainOptions.defaults.gradAccum)).") var gradAccum: Int?
    @Option(help: "Peak learning rate (default: \(TrainOptions.defaults.lr)).") var lr: Double?
    @Option(help: "cosine, linear, constant or wsd (default: \(TrainOptions.defaults.schedule.rawValue)).") var schedule: ScheduleKind?
    @Option(help: "Linear warmup steps (default: \(TrainOptions.defaults.warmupSteps)).") var warmupSteps: Int?
    @Option(help: "Final learning rate as a fraction of the peak (default: \(TrainOptions.defaults.minLrFraction)).") var minLrFraction: Double?
    @Option(help: "AdamW weight decay (default: \(TrainOptions.defaults.weightDecay)).") var weightDecay: Float?
    @Flag(help: "Decay every parameter, biases and LayerNorm too (llm.c's CPU trainer).") var decayAll = false
    @Option(help: "Clip the gradient's global norm; 0 turns it off (default: \(TrainOptions.defaults.gradClip)).") var gradClip: Double?
    @Option(help: "Seed of the data order (default: \(TrainOptions.defaults.seed)).") var seed: UInt32?
    @Option(help: "llmc, shuffle or sequential (default: \(TrainOptions.defaults.dataOrder.rawValue)).") var dataOrder: DataOrder?
    @Option(help: "SFT rows: packed or padded (default: \(TrainOptions.defaults.packing.rawValue)).") var packing: Packing?
    @Option(help: "Validation every N steps; 0: at the end only (default: \(TrainOptions.defaults.evalEvery)).") var evalEvery: Int?
    @Option(help: "Batches per validation (default: \(TrainOptions.defaults.evalBatches)).") var evalBatches: Int?
    @Option(help: "Checkpoint every N steps; 0: at the end only (default: \(TrainOptions.defaults.saveEvery)).") var saveEvery: Int?
    @Option(help: "Checkpoints kept (default: \(TrainOptions.defaults.keep)).") var keep: Int?
    @Option(help: "LoRA: train rank-r adapters instead of the whole model (default: 0, full fine-tuning).") var loraRank: Int?
    @Option(help: "LoRA: the adapters' scale is alpha / rank (default: \(TrainOptions.defaults.loraAlpha)).") var loraAlpha: Double?
    @Option(help: "LoRA: comma-separated qkv, attn-proj, fc, fc-proj (default: qkv,attn-proj).") var loraTargets: String?
    @Option(help: "Threads for the kernels and BLAS (default: the cores, divided by the MPI processes on the machine).") var threads: Int?

    @Flag(help: "Under MPI: sum the gradients after the whole backward pass instead of each layer's as soon as it is done (for measuring; the result is the same).")
    var noOverlap = false

    @Flag(help: "Print the resolved options (JSON, which --config reads as YAML) and exit.") var printConfig = false
    @Flag(help: "Print the final summary as JSON on standard output.") var json = false
    @Flag(help: "Print nothing but errors.") var quiet = false

    func resolved() throws -> TrainOptions {
        var o = TrainOptions()
        if let config {
            do { o = try decodeSnakeCaseYAML(String(contentsOfFile: config, encoding: .utf8), into: o) } catch {
                throw ValidationError("\(config): \(error)")
            }
        }
        if let steps { o.steps = steps }
        if let batchSize { o.batchSize = batchSize }
        if let seqLen { o.seqLen = seqLen }
        if let gradAccum { o.gradAccum = gradAccum }
        if let lr { o.lr = lr }
        if let schedule { o.schedule = schedule }
        if let warmupSteps { o.warmupSteps = warmupSteps }
        if let minLrFraction { o.minLrFraction = minLrFraction }
        if let weightDecay { o.weightDecay = weightDecay }
        if decayAll { o.decayAll = true }
        if let gradClip { o.gradClip = gradClip }
        if let seed { o.seed = seed }
        if let dataOrder { o.dataOrder = dataOrder }
        if let packing { o.packing = packing }
        if let evalEvery { o.evalEvery = evalEvery }
        if let evalBatches { o.evalBatches = evalBatches }
        if let saveEvery { o.saveEvery = saveEvery }
        if let keep { o.keep = keep }
        if let loraRank { o.loraRank = loraRank }
        if let loraAlpha { o.loraAlpha = loraAlpha }
        if let loraTargets {
            let t = loraTargets.split(separator: ",").map { LoRATarget(rawValue: String($0)) }
            guard !t.isEmpty, t.allSatisfy({ $0 != nil }) else {
                throw ValidationError("--lora-targets: comma-separated qkv, attn-proj, fc, fc-proj")
            }
            o.loraTargets = t.map { $0! }
        }
        guard o.loraRank >= 0, o.loraAlpha > 0 else { throw ValidationError("--lora-rank must be 0 or more, --lora-alpha positive") }
        guard o.steps > 0, o.batchSize > 0, o.seqLen > 0, o.gradAccum > 0, o.lr >= 0, o.warmupSteps >= 0,
              (0...1).contains(o.minLrFraction), o.gradClip >= 0, o.evalEvery >= 0, o.evalBatches > 0,
              o.saveEvery >= 0, o.keep > 0 else {
            throw ValidationError("steps, batch size, sequence length, accumulation, eval batches and keep must be positive; the others not negative; --min-lr-fraction in 0...1")
        }
        return o
    }

    mutating func run() async throws {
        let o = try resolved()
        if printConfig {
            print(try ConfigFile.yaml(o), terminator: "")
            return
        }
        // Under mpirun or srun: one of N processes. MPI starts here, and only here.
        let group: ProcessGroup?
        if ProcessGroup.isLaunched(environment: ProcessInfo.processInfo.environment) {
            do { group = try ProcessGroup.start() } catch {
                throw Output(label: "run", quiet: false).fail(error)
            }
        } else {
            group = nil
        }
        let rank = group?.rank ?? 0
        // Rank 0 speaks for the job; the others print only their errors.
        let output = Output(label: group.map { $0.size > 1 ? "run (rank \($0.rank))" : "run" } ?? "run",
                            quiet: quiet || json || rank != 0, warnings: rank == 0)
        let isTerminal = isatty(2) == 1
        let silent = quiet || json || rank != 0
        nonisolated(unsafe) var lastLine = Date.distantPast
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let run = FineTuneRun(
            inputs: RunInputs(base: base, data: data, valData: valData, out: out), options: o,
            threads: threads ?? max(1, cores / (group?.localSize ?? 1)), resume: resume, replicas: group) { event in
            switch event {
            case let .info(s): output.info(s)
            case let .warning(s): output.warning(s)
            case let .evaluated(step, loss): output.info(String(format: "step %d: validation loss %.4f", step, loss))
            case let .saved(step, model): output.info("step \(step): checkpoint \(model)")
            case let .step(m):
                var line = String(format: "step %d/%d  loss %.4f  lr %.2e  grad norm %.3f  %.0f tokens/s  %.1f GFLOP/s",
                                  m.step, o.steps, m.loss, m.lr, m.gradNorm, m.tokensPerSecond, m.gflops)
                if let c = m.communicationSeconds { line += String(format: "  comm %.0f ms", c * 1000) }
                line += "  ETA " + eta(m, total: o.steps)
                // A line per step on a terminal (overwritten), else one every ten seconds.
                if isTerminal {
                    if !silent { FileHandle.standardError.write(Data(("\r\u{1B}[2K" + line + (m.step == o.steps ? "\n" : "")).utf8)) }
                } else if Date().timeIntervalSince(lastLine) >= 10 || m.step == o.steps {
                    lastLine = Date()
                    output.info(line)
                }
            }
        }
        run.overlapsCommunication = !noOverlap
        let summary: RunSummary
        do {
            summary = try run.run()
            try group?.finish()
        } catch let e as TrainError {
            // Every rank stops at the same step for these (the loss and the signals are agreed
            // on), so they finish MPI together and the launcher returns this status.
            if rank == 0 { output.error("\(e)") }
            try? group?.finish()
            if case .interrupted = e { throw ExitCode(ExitStatus.requeue.rawValue) }
            throw ExitCode(ExitStatus.diverged.rawValue)
        } catch {
            // An error that this rank may have seen alone (a file it could not write): the others
            // may be waiting for it in a sum, so the whole job stops.
            let code = output.fail(error)
            if let group, group.size > 1 { group.abort(status: code.rawValue) }
            throw code
        }
        guard rank == 0 else { return }
        if json {
            try output.json(summary)
        } else {
            output.info(String(format: "%d steps in %.1fs (%.0f tokens/s, %.1f GFLOP/s); final loss %.4f", summary.steps,
                               summary.seconds, summary.tokensPerSecond, summary.gflops, summary.finalLoss ?? .nan)
                        + (summary.finalValLoss.map { String(format: ", validation %.4f", $0) } ?? "")
                        + (summary.initialValLoss.map { String(format: " (%.4f before)", $0) } ?? ""))
            if let n = summary.ranks, let c = summary.communicationFraction {
                output.info(String(format: "on %d processes (MPI): %.0f tokens/s in all, %.1f%% of each step in communication",
                                   n, summary.tokensPerSecond, 100 * c))
            }
            output.info("checkpoint: \(summary.checkpoint ?? "none"); metrics: \(summary.metrics); plot: \(summary.plot)")
        }
    }
}

func eta(_ m: StepMetrics, total: Int) -> String {
    guard m.step > 0 else { return "?" }
    let s = Int((m.elapsed / Double(m.step) * Double(total - m.step)).rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
}

extension ScheduleKind: ExpressibleByArgument {}
extension DataOrder: ExpressibleByArgument {}
extension Packing: ExpressibleByArgument {}
