import Foundation
import GPTModel
import Kernels

/// Where a run reads and writes.
public struct RunInputs: Codable, Equatable, Sendable {
    /// The checkpoint to start from (llm.c file or HF folder).
    public var base: String
    /// Token shards: a folder from `prep tokenize` (its `train_*.bin`) or a glob such as
    /// `dir/train_*.bin` (plain llm.c shards of other tools).
    public var data: String
    /// Validation shards (default: the data folder's `val_*.bin`, when it has some).
    public var valData: String?
    public var out: String

    public init(base: String, data: String, valData: String? = nil, out: String) {
        self.base = base
        self.data = data
        self.valData = valData
        self.out = out
    }
}

/// What a run reports as it goes.
public enum RunEvent {
    case info(String)
    case warning(String)
    case step(StepMetrics)
    case evaluated(step: Int, loss: Double)
    case saved(step: Int, model: String)
}

/// `RUN/summary.json`.
public struct RunSummary: Codable, Sendable {
    public var kilnVersion = "0.1.0"
    public var inputs: RunInputs
    public var options: TrainOptions
    public var config: GPTConfig
    public var supervised: Bool
    public var steps: Int
    public var resumedFrom: Int?
    public var finalLoss: Double?
    /// Validation loss (per trained token) before the first step and after the last.
    public var initialValLoss: Double?
    public var finalValLoss: Double?
    public var trainedTokens: Double
    public var seconds: Double
    public var tokensPerSecond: Double
    public var gflops: Double
    public var checkpoint: String?
    public var metrics: String
    public var plot: String
    /// Processes that trained together (`mpirun -np N`); absent for a single process.
    public var ranks: Int?
    /// With several ranks: the fraction of the step time spent in the sums between them (steps
    /// after the first).
    public var communicationFraction: Double?
}

/// A whole `tune run`: the checks before the first step, the loop, evaluation, checkpoints,
/// metrics and the plot, resume and interruption.
public final class FineTuneRun {
    public let inputs: RunInputs
    public private(set) var options: TrainOptions
    public let threads: Int
    public let resume: Bool
    /// The processes training together, or nil for a single process. Each reads its own rows of
    /// every step; rank 0 alone writes the run folder (checkpoints, metrics, plot, summary),
    /// which every rank reads to resume.
    public let replicas: ReplicaGroup?
    /// With replicas: send each layer's gradients while the backward of the layers below runs.
    public var overlapsCommunication = true
    let onEvent: (RunEvent) -> Void
    let folder: RunFolder

    public init(inputs: RunInputs, options: TrainOptions, threads: Int, resume: Bool, replicas: ReplicaGroup? = nil,
                onEvent: @escaping (RunEvent) -> Void = { _ in }) {
        self.inputs = inputs
        self.options = options
        self.threads = max(1, threads)
        self.resume = resume
        self.replicas = replicas
        self.onEvent = onEvent
        folder = RunFolder(inputs.out)
    }

    /// Whether this process writes the run's files.
    var writes: Bool { (replicas?.rank ?? 0) == 0 }
    var ranks: Int { replicas?.size ?? 1 }

    public func run() throws -> RunSummary {
        let started = Date()
        try folder.prepare()
        // Resume: the newest complete checkpoint of the run, with the options it was made with.
        var resumeState: TrainState? = nil
        var modelPath = resolveCheckpoint(inputs.base)
        if resume {
            guard let last = folder.checkpoints().last else {
                throw DataError(message: "\(inputs.out): no checkpoint to resume from (model_*.bin with its state_*.bin)")
            }
            let (state, header) = try TrainStateFile.read(folder.statePath(step: last))
            // The data position counts steps of ranks × B rows: another rank count would read
            // other rows.
            let savedRanks = Int(header.facts["ranks"] ?? "1") ?? 1
            guard savedRanks == ranks else {
                throw DataError(message: "\(folder.statePath(step: last)) was saved by a run on \(savedRanks) process\(savedRanks == 1 ? "" : "es"); resume it on as many (this one has \(ranks)): its data position counts steps of \(savedRanks) × --batch-size rows")
            }
            if header.options != options { onEvent(.warning("resuming with the options saved in \(folder.statePath(step: last)); the options given now are ignored")) }
            options = header.options
            resumeState = state
            if options.loraRank == 0 { modelPath = folder.modelPath(step: last) }
            onEvent(.info("resuming \(inputs.out) at step \(last)"))
        }
        let o = options
        let checkpoint = try Checkpoint.read(path: modelPath)
        let config = checkpoint.config
        guard o.seqLen <= config.maxSeqLen else {
            throw DataError(message: "--seq-len \(o.seqLen) exceeds the checkpoint's maximum sequence length \(config.maxSeqLen)")
        }

        // Data: shards, their tokenizer against the model's, and every token id in range.
        let trainShards = try shardPaths(inputs.data, split: "train").map { try MappedShard(path: $0) }
        var valSpec = inputs.valData
        if valSpec == nil, (try? shardPaths(inputs.data, split: "val")) != nil { valSpec = inputs.data }
        let valShards = try valSpec.map { try shardPaths($0, split: "val").map { try MappedShard(path: $0) } } ?? []
        let facts = DataFacts.read(inputs.data)
        let card = ModelCard.read(for: resolveCheckpoint(inputs.base))
        if let a = facts.fingerprint, let b = card?.tokenizerFingerprint {
            guard a == b else {
                throw DataError(message: "the shards in \(inputs.data) were made with tokenizer \(a.prefix(16))…, the checkpoint \(inputs.base) with \(b.prefix(16))…: token ids would not mean the same words")
            }
        } else {
            onEvent(.warning("no tokenizer fingerprint to compare (\(facts.fingerprint == nil ? "the data has no Kiln manifest" : "the checkpoint has no \(ModelCard.path(for: inputs.base))")): only the vocabulary size is checked"))
        }
        if let v = facts.vocabularySize, v > config.vocabSize {
            throw DataError(message: "the data's tokenizer has \(v) tokens, the checkpoint's vocabulary only \(config.vocabSize)")
        }
        for s in trainShards + valShards {
            let m = s.maxToken()
            if Int(m) >= config.vocabSize {
                throw DataError(message: "\(s.path): token id \(m) is outside the checkpoint's vocabulary 0..<\(config.vocabSize)")
            }
        }
        let supervised = trainShards.first?.index?.mask != nil
        guard trainShards.allSatisfy({ ($0.index?.mask != nil) == supervised }) else {
            throw DataError(message: "\(inputs.data): some shards have loss masks (SFT data) and some do not")
        }
        let padToken = Int32(facts.endOfText ?? card?.endOfText ?? 0)
        func loader(_ shards: [MappedShard], seed: UInt32, order: DataOrder) throws -> BatchLoader {
            let rank = replicas?.rank ?? 0
            return supervised
                ? try ExampleLoader(shards: shards, B: o.batchSize, T: o.seqLen, rank: rank, worldSize: ranks,
                                    packing: o.packing, seed: seed, padToken: padToken)
                : try WindowLoader(shards: shards, B: o.batchSize, T: o.seqLen, rank: rank, worldSize: ranks,
                                   order: order, seed: seed)
        }
        let trainLoader = try loader(trainShards, seed: o.seed, order: o.dataOrder)
        if let l = trainLoader as? ExampleLoader, l.cutExamples > 0 {
            onEvent(.warning("\(l.cutExamples) examples are longer than --seq-len \(o.seqLen) + 1 tokens and are cut"))
        }

        BLAS.threads = threads
        let model = GPT(config: config, parameters: checkpoint.parameters, threads: threads)
        let lora: LoRAModel? = o.loraRank > 0 ? LoRAModel(model: model, options: o.lora, seed: UInt64(o.seed)) : nil
        if let lora, let s = resumeState { try lora.loadAdapters(from: folder.adapterPath(step: s.step)) }
        let trainer = Trainer(model: lora ?? model, options: o, loader: trainLoader, replicas: replicas)
        trainer.overlapsCommunication = overlapsCommunication
        if let lora {
            onEvent(.info(String(format: "LoRA rank %d (alpha %.0f) on %@: %d trained parameters (%.2f%% of %d)", o.loraRank, o.loraAlpha,
                                 o.loraTargets.map(\.rawValue).joined(separator: ","), lora.parameters.count,
                                 100 * Double(lora.parameters.count) / Double(model.parameters.count), model.parameters.count)))
        }
        var metrics: [StepMetrics] = []
        if let s = resumeState {
            trainer.restore(s)
            if writes { metrics = try folder.truncateMetrics(after: s.step) }
        } else if writes {
            try? FileManager.default.removeItem(atPath: folder.metricsPath)
        }
        onEvent(.info("\(supervised ? "supervised fine-tuning" : "continued pretraining"): \(config), B=\(o.batchSize) T=\(o.seqLen) accumulation \(o.gradAccum)\(replicas == nil ? "" : " on each of \(ranks) processes (MPI)"), \(trainer.loader.batchesPerEpoch) batches per epoch, \(valShards.isEmpty ? "no validation data" : "validation on \(valShards.count) shards")"))

        func evaluate() throws -> Double? {
            guard !valShards.isEmpty else { return nil }
            var l = try loader(valShards, seed: 0, order: .shuffle)
            return try trainer.evaluate(&l, batches: min(o.evalBatches, max(1, l.batchesPerEpoch)))
        }
        let facts0: [String: String] = [
            "config": config.description, "base": inputs.base, "data": inputs.data,
            "tokenizer": facts.fingerprint ?? card?.tokenizerFingerprint ?? "unknown",
            "ranks": String(ranks),
        ]
        var lastSaved: Int? = resumeState?.step
        func save() throws {
            let step = trainer.step
            try checkReplicasAgree(model.parameters, step: step)
            guard writes else {
                lastSaved = step
                return
            }
            let path: String
            if let lora {
                path = folder.adapterPath(step: step)
                try lora.saveAdapters(to: path, baseModel: URL(fileURLWithPath: modelPath).standardizedFileURL.path)
            } else {
                path = folder.modelPath(step: step)
                try Checkpoint(config: config, parameters: Array(model.parameters)).write(llmc: path)
                try ModelCard(kilnVersion: "0.1.0", tokenizerFingerprint: facts.fingerprint ?? card?.tokenizerFingerprint,
                              vocabularySize: config.vocabSize, endOfText: facts.endOfText ?? card?.endOfText,
                              madeBy: "tune run (step \(step))", base: inputs.base).write(for: path)
            }
            // The state goes last: a checkpoint counts only once its state is in place.
            try TrainStateFile.write(trainer.state(), options: o, facts: facts0, to: folder.statePath(step: step))
            folder.prune(keep: o.keep)
            lastSaved = step
            onEvent(.saved(step: step, model: path))
        }

        let initialVal = resumeState == nil ? try evaluate() : nil
        if let v = initialVal { onEvent(.evaluated(step: 0, loss: v)) }
        SignalTrap.install()
        SignalTrap.clear()
        while trainer.step < o.steps {
            var m: StepMetrics
            do {
                m = try trainer.trainStep(startedAt: started)
            } catch TrainError.nonFiniteLoss(let step, _) {
                throw TrainError.nonFiniteLoss(step: step, lastCheckpoint: lastSaved)
            }
            let last = trainer.step == o.steps
            if (o.evalEvery > 0 && trainer.step % o.evalEvery == 0) || last {
                if let v = try evaluate() {
                    m.valLoss = v
                    onEvent(.evaluated(step: trainer.step, loss: v))
                }
            }
            metrics.append(m)
            if writes { try folder.appendMetrics(m) }
            onEvent(.step(m))
            if (o.saveEvery > 0 && trainer.step % o.saveEvery == 0) || last {
                try save()
            }
            if writes && ((o.evalEvery > 0 && trainer.step % o.evalEvery == 0) || last || trainer.step % 50 == 0) {
                try folder.writePlot(metrics, title: "tune run \(inputs.out)")
            }
            // A signal to any rank stops them all after the same step (each rank checkpoints
            // through rank 0 and exits with the requeue status).
            var signal = SignalTrap.pending
            if let replicas {
                let s = try replicas.largest(Double(signal ?? 0))
                signal = s > 0 ? Int32(s) : nil
            }
            if let sig = signal, !last {
                try save()
                if writes { try folder.writePlot(metrics, title: "tune run \(inputs.out)") }
                throw TrainError.interrupted(step: trainer.step, signal: sig)
            }
        }
        if writes { try folder.writePlot(metrics, title: "tune run \(inputs.out)") }
        let seconds = Date().timeIntervalSince(started)
        let tokens = metrics.reduce(0.0) { $0 + $1.trainedTokens }
        let timed = metrics.suffix(max(1, metrics.count - 1))  // the first step warms caches up
        // Seconds of each step: its positions (the same every step) over its speed.
        let positionsPerStep = Double(o.batchSize * o.seqLen * o.gradAccum * ranks)
        let stepSeconds = timed.reduce(0.0) { $0 + positionsPerStep / max($1.tokensPerSecond, 1e-9) }
        let commSeconds = timed.reduce(0.0) { $0 + ($1.communicationSeconds ?? 0) }
        let summary = RunSummary(
            inputs: inputs, options: o, config: config, supervised: supervised, steps: trainer.step,
            resumedFrom: resumeState?.step, finalLoss: metrics.last?.loss, initialValLoss: initialVal,
            finalValLoss: metrics.last?.valLoss, trainedTokens: tokens, seconds: seconds,
            tokensPerSecond: timed.isEmpty ? 0 : timed.reduce(0) { $0 + $1.tokensPerSecond } / Double(timed.count),
            gflops: timed.isEmpty ? 0 : timed.reduce(0) { $0 + $1.gflops } / Double(timed.count),
            checkpoint: lastSaved.map { lora == nil ? folder.modelPath(step: $0) : folder.adapterPath(step: $0) },
            metrics: folder.metricsPath, plot: folder.plotPath,
            ranks: replicas == nil ? nil : ranks,
            communicationFraction: replicas == nil || stepSeconds <= 0 ? nil : commSeconds / stepSeconds)
        guard writes else { return summary }
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try e.encode(summary) + Data("\n".utf8), to: folder.summaryPath)
        return summary
    }

    /// Stops the run when the replicas' parameters differ: they take the same steps from the same
    /// checkpoint, so a difference means a bug or a bad node, and rank 0's checkpoint would not
    /// be the others' model. Compares a sum of the parameters (one pass, two tiny collectives).
    func checkReplicasAgree(_ parameters: UnsafeMutableBufferPointer<Float>, step: Int) throws {
        guard let replicas else { return }
        var sum = 0.0, weighted = 0.0
        for (i, p) in parameters.enumerated() {
            sum += Double(p)
            weighted += Double(p) * Double(i % 1021 + 1)
        }
        var hi = [sum, weighted], lo = [-sum, -weighted]
        try hi.withUnsafeMutableBufferPointer { try replicas.maximum($0) }
        try lo.withUnsafeMutableBufferPointer { try replicas.maximum($0) }
        guard hi[0] == -lo[0], hi[1] == -lo[1] else {
            throw DataError(message: "after step \(step) the \(replicas.size) processes hold different parameters (checksums \(-lo[0])…\(hi[0])); the checkpoint is not written")
        }
    }
}
