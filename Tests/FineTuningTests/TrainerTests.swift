import FineTuning
import Foundation
import Testing
import TestSupport

/// A bigram language model (logits of the next token = one row of a V×V table): small enough to
/// check the trainer's arithmetic exactly, real enough to learn.
final class BigramModel: TrainableModel {
    let V: Int
    let parameters: UnsafeMutableBufferPointer<Float>
    let gradients: UnsafeMutableBufferPointer<Float>
    private var last: TrainingBatch?
    private var probs: [Float] = []

    init(V: Int, seed: UInt32) {
        self.V = V
        parameters = .allocate(capacity: V * V)
        gradients = .allocate(capacity: V * V)
        var g = MersenneTwister(seed: seed)
        for i in 0..<(V * V) { parameters[i] = Float(g.next() % 1000) / 10_000 - 0.05 }
        gradients.initialize(repeating: 0)
    }
    deinit { parameters.deallocate(); gradients.deallocate() }

    var flopsPerToken: Double { Double(6 * V) }
    var decayRanges: [(range: Range<Int>, decay: Bool)] { [(0..<(V * V / 2), true), ((V * V / 2)..<(V * V), false)] }

    func forward(_ b: TrainingBatch) -> (lossSum: Double, weightSum: Double) {
        last = b
        probs = []
        var loss = 0.0, weight = 0.0
        for p in 0..<(b.B * b.T) {
            let row = Int(b.inputs[p]) * V
            var mx = -Float.infinity
            for j in 0..<V { mx = max(mx, parameters[row + j]) }
            var sum: Float = 0
            var e = [Float](repeating: 0, count: V)
            for j in 0..<V { e[j] = expf(parameters[row + j] - mx); sum += e[j] }
            for j in 0..<V { e[j] /= sum }
            probs += e
            let w = Double(b.weights?[p] ?? 1)
            loss += w * -log(Double(e[Int(b.targets[p])]))
            weight += w
        }
        return (loss, weight)
    }

    func zeroGradients() { for i in gradients.indices { gradients[i] = 0 } }

    func backward(lossScale: Float) {
        let b = last!
        for p in 0..<(b.B * b.T) {
            let w = (b.weights?[p] ?? 1) * lossScale
            let row = Int(b.inputs[p]) * V
            for j in 0..<V {
                gradients[row + j] += w * (probs[p * V + j] - (j == Int(b.targets[p]) ? 1 : 0))
            }
        }
    }
}

@Suite struct TrainerTests {
    static func shard(_ dir: String, V: Int = 16) throws -> [MappedShard] {
        // A text with structure: token k is mostly followed by k+1.
        var tokens: [UInt32] = []
        var g = MersenneTwister(seed: 5)
        for i in 0..<4000 { tokens.append(g.next() % 10 == 0 ? UInt32(g.next() % UInt32(V)) : UInt32(i % V)) }
        DataLoaderTests.writeShard(tokens, to: dir + "/train.bin")
        return [try MappedShard(path: dir + "/train.bin")]
    }

    static func options(_ edit: (inout TrainOptions) -> Void = { _ in }) -> TrainOptions {
        var o = TrainOptions()
        o.steps = 20; o.batchSize = 4; o.seqLen = 16; o.lr = 0.05; o.warmupSteps = 2; o.weightDecay = 0.01
        edit(&o)
        return o
    }

    static func trainer(_ shards: [MappedShard], _ o: TrainOptions, model: BigramModel) throws -> Trainer {
        try Trainer(model: model, options: o,
                    loader: WindowLoader(shards: shards, B: o.batchSize, T: o.seqLen, order: o.dataOrder, seed: o.seed))
    }

    @Test func aSmallModelLearns() throws {
        let shards = try Self.shard(Fixtures.tempDir("learn"))
        let o = Self.options { $0.steps = 150 }
        let t = try Self.trainer(shards, o, model: BigramModel(V: 16, seed: 1))
        var losses: [Double] = []
        for _ in 0..<o.steps { losses.append(try t.trainStep(startedAt: Date()).loss) }
        #expect(losses[0] > 2.5)
        // The floor is about 0.57 nats (a tenth of the tokens are random).
        #expect(losses.suffix(10).reduce(0, +) / 10 < 1.0)
    }

    /// B=4 in one go and B=2 accumulated twice read the same rows and make the same update.
    @Test func gradientAccumulationEqualsTheBigBatch() throws {
        let shards = try Self.shard(Fixtures.tempDir("accum"))
        let big = BigramModel(V: 16, seed: 2), small = BigramModel(V: 16, seed: 2)
        let a = try Self.trainer(shards, Self.options(), model: big)
        let b = try Self.trainer(shards, Self.options { $0.batchSize = 2; $0.gradAccum = 2 }, model: small)
        for _ in 0..<10 {
            let x = try a.trainStep(startedAt: Date()), y = try b.trainStep(startedAt: Date())
            #expect(abs(x.loss - y.loss) < 1e-6 && abs(x.gradNorm - y.gradNorm) < 1e-5)
        }
        var worst: Float = 0
        for i in 0..<(16 * 16) { worst = max(worst, abs(big.parameters[i] - small.parameters[i])) }
        #expect(worst < 1e-5)
    }

    /// The same with loss masks: micro-batches with different trained-token counts are
    /// normalised by the step's total, not each by its own (the bug that over-weights short ones).
    @Test func accumulationWithMasksNormalisesByTheStepsTrainedTokens() throws {
        let dir = Fixtures.tempDir("accummask")
        let shards = try DataLoaderTests.sftShards(dir)
        func run(B: Int, accum: Int) throws -> BigramModel {
            let m = BigramModel(V: 4000, seed: 3)
            var o = Self.options { $0.batchSize = B; $0.gradAccum = accum; $0.seqLen = 24; $0.steps = 4 }
            o.gradClip = 0
            let t = Trainer(model: m, options: o, loader: try ExampleLoader(shards: shards, B: B, T: 24, packing: .packed, seed: 4, padToken: 999))
            for _ in 0..<4 { _ = try t.trainStep(startedAt: Date()) }
            return m
        }
        let a = try run(B: 4, accum: 1), b = try run(B: 1, accum: 4)
        var worst: Float = 0
        for i in 0..<(4000 * 4000) { worst = max(worst, abs(a.parameters[i] - b.parameters[i])) }
        #expect(worst < 1e-6)
    }

    /// 20 steps in one go, and 10 + save + restore + 10, give the same bits.
    @Test func resumeIsBitExact() throws {
        let dir = Fixtures.tempDir("resume")
        let shards = try Self.shard(dir)
        let o = Self.options()
        let whole = BigramModel(V: 16, seed: 7)
        let t = try Self.trainer(shards, o, model: whole)
        for _ in 0..<20 { _ = try t.trainStep(startedAt: Date()) }

        let first = BigramModel(V: 16, seed: 7)
        let t1 = try Self.trainer(shards, o, model: first)
        for _ in 0..<10 { _ = try t1.trainStep(startedAt: Date()) }
        try TrainStateFile.write(t1.state(), options: o, facts: ["model": "bigram"], to: dir + "/state.bin")
        let weights = Array(first.parameters)

        let second = BigramModel(V: 16, seed: 99)
        for i in weights.indices { second.parameters[i] = weights[i] }
        let t2 = try Self.trainer(shards, o, model: second)
        let (state, header) = try TrainStateFile.read(dir + "/state.bin")
        #expect(header.options == o && header.facts["model"] == "bigram" && header.step == 10)
        t2.restore(state)
        for _ in 0..<10 { _ = try t2.trainStep(startedAt: Date()) }
        #expect(t2.step == 20)
        #expect(Array(second.parameters).map(\.bitPattern) == Array(whole.parameters).map(\.bitPattern))
    }

    @Test func aNonFiniteLossStopsTheRun() throws {
        let shards = try Self.shard(Fixtures.tempDir("nan"))
        let m = BigramModel(V: 16, seed: 1)
        m.parameters[3] = .nan
        let t = try Self.trainer(shards, Self.options(), model: m)
        #expect { _ = try t.trainStep(startedAt: Date()) } throws: { "\($0)".contains("not finite") }
    }

    @Test func stateFilesAreChecked() throws {
        let dir = Fixtures.tempDir("statefile")
        let s = TrainState(step: 3, optimizerStep: 3, data: DataPosition(consumed: 3, epoch: 0), m: [1, 2], v: [3, 4])
        try TrainStateFile.write(s, options: TrainOptions(), facts: [:], to: dir + "/s.bin")
        #expect(try TrainStateFile.read(dir + "/s.bin").state == s)
        var b = Fixtures.read(dir + "/s.bin")
        b.removeLast()
        Fixtures.write(b, to: dir + "/cut.bin")
        #expect { try TrainStateFile.read(dir + "/cut.bin") } throws: { "\($0)".contains("cut.bin") && "\($0)".contains("bytes") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).allSatisfy { !$0.hasPrefix(".") })
    }
}

@Suite struct RunFolderTests {
    static func metrics(_ n: Int) -> [StepMetrics] {
        (1...n).map { (k: Int) -> StepMetrics in
            let x = Double(k)
            let val: Double? = k % 5 == 0 ? 6 / x : nil
            return StepMetrics(step: k, loss: 5 / x, valLoss: val, lr: 1e-3, gradNorm: 1, trainedTokens: 64,
                               tokensPerSecond: 100, gflops: 1, elapsed: x)
        }
    }

    @Test func checkpointsKeepTheNewestAndMetricsTruncateOnResume() throws {
        let run = RunFolder(Fixtures.tempDir("run"))
        try run.prepare()
        for s in [10, 20, 30] {
            Fixtures.write([1], to: run.modelPath(step: s))
            Fixtures.write([2], to: run.statePath(step: s))
        }
        Fixtures.write([1], to: run.modelPath(step: 40))  // killed before its state was written
        #expect(run.checkpoints() == [10, 20, 30])
        run.prune(keep: 2)
        #expect(run.checkpoints() == [20, 30])
        #expect(!FileManager.default.fileExists(atPath: run.modelPath(step: 40)))
        for m in Self.metrics(12) { try run.appendMetrics(m) }
        let kept = try run.truncateMetrics(after: 7)
        #expect(kept.map(\.step) == Array(1...7))
        #expect(String(decoding: Fixtures.read(run.metricsPath), as: UTF8.self).split(separator: "\n").count == 7)
    }

    @Test func thePlotIsSVGWithBothCurves() throws {
        let svg = LossPlot.svg(Self.metrics(30), title: "run <demo>")
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count == 3)
        #expect(svg.contains("run &lt;demo&gt;") && svg.contains("validation"))
        #expect(LossPlot.svg([], title: "empty").contains("no steps yet"))
    }

    @Test func signalsSetTheFlag() {
        SignalTrap.install()
        SignalTrap.clear()
        #expect(SignalTrap.pending == nil)
        // To the process, as Slurm sends it: any thread that does not block it takes it.
        kill(getpid(), SIGUSR1)
        for _ in 0..<100 where SignalTrap.pending == nil { usleep(10_000) }
        #expect(SignalTrap.pending == SIGUSR1)
        SignalTrap.clear()
    }
}
