// Training-step throughput: tokens/s and achieved GFLOP/s of forward + backward, to be printed
// beside the machine's sgemm ceiling (BLAS.measureGFLOPS) so a slow path shows itself.

import Foundation
import Kernels

public enum GPTBenchmark {
    public struct Result: Sendable, CustomStringConvertible {
        public var config: GPTConfig
        public var B: Int, T: Int, threads: Int
        /// Median seconds of one forward + backward step.
        public var secondsPerStep: Double
        public var tokensPerSecond: Double
        /// 6 · parameters · tokens per second (nanoGPT's estimate: 2 for the forward products,
        /// 4 for the backward ones), in GFLOP/s. It counts the tied head once, through wte.
        public var gflops: Double
        /// Attention's own products (QKᵀ and AV, forward and backward: 12 · L · C · T per token,
        /// counting the full T×T square that the sgemm calls compute) in GFLOP/s, not in `gflops`.
        public var attentionGFLOPS: Double
        public var activationBytes: Int

        public var description: String {
            String(format: "B=%d T=%d threads=%d: %.3f s/step, %.1f tokens/s, %.1f GFLOP/s (+%.1f attention), activations %.2f GB",
                   B, T, threads, secondsPerStep, tokensPerSecond, gflops, attentionGFLOPS, Double(activationBytes) / 1e9)
        }
    }

    /// Times `steps` forward + backward steps (after one warm-up step) of a randomly initialised
    /// model of shape `config` (llm.c's initialisation, `Checkpoint.random`) on random tokens, with `threads` for both the Swift kernels and
    /// BLAS (restored afterwards). Returns the median step.
    public static func trainStep(config: GPTConfig, B: Int, T: Int, threads: Int, steps: Int) -> Result {
        precondition(steps >= 1 && T <= config.maxSeqLen)
        let model = GPT(config: config, parameters: Checkpoint.random(config: config, seed: 1337).parameters,
                        threads: threads)
        var rng = SplitMix64(state: 1337)
        let V = UInt64(config.vocabSize)
        let tokens = (0...(B * T)).map { _ in Int32(truncatingIfNeeded: rng.next() % V) }
        let batch = TokenBatch(B: B, T: T, inputs: Array(tokens[0..<(B * T)]), targets: Array(tokens[1...]))
        let savedBLAS = BLAS.threads
        BLAS.threads = threads
        defer { BLAS.threads = savedBLAS }
        var times: [Double] = []
        for step in 0...steps {
            let start = DispatchTime.now().uptimeNanoseconds
            let (loss, weight) = model.forward(batch)
            model.backward(lossScale: Float(1 / weight))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            precondition(loss.isFinite)
            if step > 0 { times.append(seconds) }
        }
        times.sort()
        let s = times[times.count / 2]
        let trained = Double(B * T)
        let attention = 12.0 * Double(config.numLayers * config.channels * T) * trained
        return Result(config: config, B: B, T: T, threads: threads, secondsPerStep: s, tokensPerSecond: trained / s,
                      gflops: model.flopsPerToken * trained / s / 1e9, attentionGFLOPS: attention / s / 1e9,
                      activationBytes: GPT.activationBytes(config: config, B: B, T: T))
    }
}
