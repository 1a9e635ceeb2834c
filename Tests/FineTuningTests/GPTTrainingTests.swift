import FineTuning
import Foundation
import GPTModel
import Testing
import TestSupport

/// The trainer's promises on the real model (the bigram model checks the arithmetic alone).
@Suite struct GPTTrainingTests {
    static let config = GPTConfig(maxSeqLen: 16, vocabSize: 50, numLayers: 2, numHeads: 2, channels: 16)

    static func model() -> GPT { GPT(config: config, parameters: Checkpoint.random(config: config, seed: 4).parameters, threads: 1) }

    /// What a masked position's target is cannot change any gradient: masked tokens get none.
    @Test func maskedTargetsGetNoGradient() {
        var g = MersenneTwister(seed: 2)
        let n = 2 * 12
        let inputs = (0..<n).map { _ in Int32(g.next() % 50) }
        var targets = (0..<n).map { _ in Int32(g.next() % 50) }
        let weights: [Float] = (0..<n).map { $0 % 4 == 1 ? 1 : 0 }
        func grads(_ targets: [Int32]) -> [Float] {
            let m = Self.model()
            let r = m.forward(TokenBatch(B: 2, T: 12, inputs: inputs, targets: targets, weights: weights))
            m.backward(lossScale: Float(1 / r.weightSum))
            return Array(m.gradients)
        }
        let a = grads(targets)
        for i in 0..<n where weights[i] == 0 { targets[i] = (targets[i] + 17) % 50 }
        #expect(grads(targets) == a)
        #expect(a.contains { $0 != 0 })
    }

    /// Gradient accumulation over micro-batches of different trained-token counts equals the
    /// big batch, on the GPT (float summation order aside).
    @Test func accumulationEqualsTheBigBatch() throws {
        let dir = Fixtures.tempDir("gptaccum")
        let shards = try DataLoaderTests.sftShards(dir)
        // Token ids of the SFT fixture go up to 3927: fold them into this vocabulary.
        func folded(_ b: TokenBatch) -> TokenBatch {
            var c = b
            c.inputs = b.inputs.map { $0 % 50 }
            c.targets = b.targets.map { $0 % 50 }
            return c
        }
        struct Folding: BatchLoader {
            var inner: ExampleLoader
            let fold: (TokenBatch) -> TokenBatch
            mutating func next() -> TokenBatch { fold(inner.next()) }
            var position: DataPosition { inner.position }
            mutating func seek(to p: DataPosition) { inner.seek(to: p) }
            var batchesPerEpoch: Int { inner.batchesPerEpoch }
        }
        func run(B: Int, accum: Int) throws -> [Float] {
            let m = Self.model()
            var o = TrainOptions()
            o.batchSize = B; o.gradAccum = accum; o.seqLen = 16; o.lr = 1e-2; o.warmupSteps = 0; o.steps = 3; o.gradClip = 0
            let loader = Folding(inner: try ExampleLoader(shards: shards, B: B, T: 16, packing: .packed, seed: 4, padToken: 0), fold: folded)
            let t = Trainer(model: m, options: o, loader: loader)
            for _ in 0..<3 { _ = try t.trainStep(startedAt: Date()) }
            return Array(m.parameters)
        }
        let big = try run(B: 4, accum: 1), small = try run(B: 1, accum: 4)
        var worst: Float = 0
        for i in big.indices { worst = max(worst, abs(big[i] - small[i])) }
        #expect(worst < 1e-5, "largest difference \(worst)")
    }
}
