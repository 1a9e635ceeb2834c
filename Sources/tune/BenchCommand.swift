import ArgumentParser
import Foundation
import GPTModel
import Kernels

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Training-step speed (forward + backward) beside the machine's sgemm ceiling.",
        discussion: """
            Times forward + backward steps of a randomly initialised model (median of
            --steps, after a warm-up step) for each batch shape and thread count, and
            measures the sgemm ceiling (a 2048×3072×768 product) at the same thread count
            just before each: the step's achieved GFLOP/s (6 × parameters × tokens) as a
            fraction of it shows how much time goes outside the matrix products. `make
            bench` runs it for d12 at B=4,T=64 and B=8,T=256 on one and two threads.

            EXAMPLES
              tune bench
              tune bench --preset d6 --shape 4x64 --threads 1 --steps 3 --json

            \(ExitStatus.helpText)
            """)

    @Option(help: "Model shape (default: d12, GPT-2 small).") var preset = "d12"
    @Option(help: "Batch shapes BxT (repeatable; default: 4x64 and 8x256).") var shape: [String] = []
    @Option(help: "Thread counts (repeatable; default: 1 and 2).") var threads: [Int] = []
    @Option(help: "Timed steps per measurement (default: 5).") var steps = 5
    @Flag(help: "Print the results as JSON on standard output.") var json = false

    mutating func run() async throws {
        guard let config = GPTConfig.preset(preset) else { throw ValidationError("unknown preset \(preset)") }
        let shapes = try (shape.isEmpty ? ["4x64", "8x256"] : shape).map { s -> (Int, Int) in
            let p = s.split(separator: "x").compactMap { Int($0) }
            guard p.count == 2, p[0] > 0, p[1] > 0, p[1] <= config.maxSeqLen else { throw ValidationError("--shape \(s): expected BxT") }
            return (p[0], p[1])
        }
        let info = try BLAS.load()
        struct Row: Encodable {
            var B: Int, T: Int, threads: Int
            var tokensPerSecond: Double, gflops: Double, attentionGflops: Double, sgemmCeilingGflops: Double
            var fractionOfCeiling: Double, secondsPerStep: Double, activationBytes: Int
        }
        var rows: [Row] = []
        if !json { print("\(preset) (\(config)), BLAS core \(info.coreName)") }
        for (B, T) in shapes {
            for n in (threads.isEmpty ? [1, 2] : threads) {
                let ceiling = BLAS.measureGFLOPS(m: 2048, n: 3072, k: 768, threads: n, seconds: 1.0)
                let r = GPTBenchmark.trainStep(config: config, B: B, T: T, threads: n, steps: steps)
                rows.append(Row(B: B, T: T, threads: n, tokensPerSecond: r.tokensPerSecond, gflops: r.gflops,
                                attentionGflops: r.attentionGFLOPS, sgemmCeilingGflops: ceiling,
                                fractionOfCeiling: r.gflops / ceiling, secondsPerStep: r.secondsPerStep,
                                activationBytes: r.activationBytes))
                if !json {
                    print(String(format: "B=%d T=%d threads=%d: %.1f tokens/s, %.1f GFLOP/s (+%.1f attention), sgemm ceiling %.1f: %.0f%%",
                                 B, T, n, r.tokensPerSecond, r.gflops, r.attentionGFLOPS, ceiling, 100 * r.gflops / ceiling))
                }
            }
        }
        struct Doc: Encodable { var preset: String; var core: String; var rows: [Row] }
        if json { try Output(label: "bench", quiet: true).json(Doc(preset: preset, core: info.coreName, rows: rows)) }
    }
}

