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
}

/// A whole `tune run`: the checks before the first step, the loop, evaluation, checkpoints,
/// metrics and the plot, resume and interruption.
public final class FineTuneRun {
    public let inputs: RunInputs
    public private(set) var options: TrainOptions
    public let threads: Int
    public let resume: Bool
    let onEvent: (RunEvent) -> Void
    let folder: RunFolder

    public init(inputs: RunInputs, options: TrainOptions, threads: Int, resume: Bool,
                onEvent: @escaping (RunEvent) -> Void = { _ in }) {
        self.inputs = inputs
        self.options = options
        self.threads = max(1, threads)
        self.resume = resume
        self.onEvent = onEvent
        folder = RunFolder(inputs.out)
    }

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
            supervised
                ? try ExampleLoader(shards: shards, B: o.batchSize, T: o.seqLen, packing: o.packing, seed: seed, padToken: padToken)
                : try WindowLoader(shards: shards, B: o.batchSize, T: o.seqLen, order: order, seed: seed)
        }
        let trainLoader = try loader(trainShards, seed: o.seed, order: o.dataOrder)
        if let l = trainLoader as? ExampleLoader, l.cutExamples > 0 {
            onEvent(.warning("\(l.cutExamples) examples are longer than --seq-len \(o.seqLen) + 1 tokens and are cut"))
        }

        BLAS.threads = threads
        let model = GPT(config: config, parameters: checkpoint.parameters, threads: threads)
        let lora: LoRAModel? = o.loraRank > 0 ? LoRAModel(model: model, options: o.lora, seed: UInt64(o.seed)) : nil
        if let lora, let s = resumeState { try lora.loadAdapters(from: folder.adapterPath(step: s.step)) }
        let trainer = Trainer(model: lora ?? model, options: o, loader: trainLoader)
        if let lora {
            onEvent(.info(String(format: "LoRA rank %d (alpha %.0f) on %@: %d trained parameters (%.2f%% of %d)", o.loraRank, o.loraAlpha,
                                 o.loraTargets.map(\.rawValue).joined(separator: ","), lora.parameters.count,
                                 100 * Double(lora.parameters.count) / Double(model.parameters.count), model.parameters.count)))
        }
        var metrics: [StepMetrics] = []
        if let s = resumeState {
            trainer.restore(s)
            metrics = try folder.truncateMetrics(after: s.step)
        } else {
            try? FileManager.default.removeItem(atPath: folder.metricsPath)
        }
        onEvent(.info("\(supervised ? "supervised fine-tuning" : "continued pretraining"): \(config), B=\(o.batchSize) T=\(o.seqLen) accumulation \(o.gradAccum), \(trainer.loader.batchesPerEpoch) batches per epoch, \(valShards.isEmpty ? "no validation data" : "validation on \(valShards.count) shards")"))

        func evaluate() throws -> Double? {
            guard !valShards.isEmpty else { return nil }
            var l = try loader(valShards, seed: 0, order: .shuffle)
            return trainer.evaluate(&l, batches: min(o.evalBatches, max(1, l.batchesPerEpoch)))
        }
        let facts0: [String: String] = [
            "config": config.description, "base": inputs.base, "data": inputs.data,
            "tokenizer": facts.fingerprint ?? card?.tokenizerFingerprint ?? "unknown",
        ]
        var lastSaved: Int? = resumeState?.step
        func save() throws {
            let step = trainer.step
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
            try folder.appendMetrics(m)
            onEvent(.step(m))
            if (o.saveEvery > 0 && trainer.step % o.saveEvery == 0) || last {
                try save()
            }
            if (o.evalEvery > 0 && trainer.step % o.evalEvery == 0) || last || trainer.step % 50 == 0 {
                try folder.writePlot(metrics, title: "tune run \(inputs.out)")
            }
            if let sig = SignalTrap.pending, !last {
                try save()
                try folder.writePlot(metrics, title: "tune run \(inputs.out)")
                throw TrainError.interrupted(step: trainer.step, signal: sig)
            }
        }
        try folder.writePlot(metrics, title: "tune run \(inputs.out)")
        let seconds = Date().timeIntervalSince(started)
        let tokens = metrics.reduce(0.0) { $0 + $1.trainedTokens }
        let timed = metrics.suffix(max(1, metrics.count - 1))  // the first step warms caches up
        let summary = RunSummary(
            inputs: inputs, options: o, config: config, supervised: supervised, steps: trainer.step,
            resumedFrom: resumeState?.step, finalLoss: metrics.last?.loss, initialValLoss: initialVal,
            finalValLoss: metrics.last?.valLoss, trainedTokens: tokens, seconds: seconds,
            tokensPerSecond: timed.isEmpty ? 0 : timed.reduce(0) { $0 + $1.tokensPerSecond } / Double(timed.count),
            gflops: timed.isEmpty ? 0 : timed.reduce(0) { $0 + $1.gflops } / Double(timed.count),
            checkpoint: lastSaved.map { lora == nil ? folder.modelPath(step: $0) : folder.adapterPath(step: $0) },
            metrics: folder.metricsPath, plot: folder.plotPath)
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try writeAtomically(try e.encode(summary) + Data("\n".utf8), to: folder.summaryPath)
        return summary
    }
}
