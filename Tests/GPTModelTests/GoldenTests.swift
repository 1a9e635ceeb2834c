// Golden values from an independent implementation: reference_gpt2.py (numpy, float64, its own
// hand-written backward) runs on the same parameters and batch, and the Swift model's logits,
// losses and gradients must match it to float32 accuracy.

import Foundation
import Testing
import TestSupport
@testable import GPTModel

struct GoldenError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

@Suite struct GoldenTests {
    /// A model a little larger than the tiny one (head size 8, three layers) so that every
    /// kernel runs its SIMD bodies as well as its tails.
    static let config = GPTConfig(maxSeqLen: 16, vocabSize: 101, paddedVocabSize: 128, numLayers: 3, numHeads: 4,
                                  channels: 32)

    struct Reference {
        var loss: Double
        var losses: [Double]
        var logits: [Double]
        var gradients: [Double]
    }

    /// Runs the numpy reference, or returns nil (with the reason) when the venv is missing.
    static func reference(params: [Float], batch: TokenBatch) throws -> Reference? {
        guard let python = Fixtures.venvPython else { return nil }
        let dir = Fixtures.tempDir("golden")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try JSONEncoder().encode(config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        var batchJSON: [String: Any] = ["B": batch.B, "T": batch.T, "inputs": batch.inputs, "targets": batch.targets]
        if let w = batch.weights { batchJSON["weights"] = w.map(Double.init) }
        if let d = batch.documentIDs { batchJSON["documentIDs"] = d }
        try JSONSerialization.data(withJSONObject: batchJSON).write(to: URL(fileURLWithPath: dir + "/batch.json"))
        // Raw little-endian float32, llm.c order, no header (this machine is little-endian).
        try params.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: dir + "/params.bin"))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/reference_gpt2.py"
        let r = try Fixtures.run(python, [script, dir + "/config.json", dir + "/params.bin", dir + "/batch.json",
                                          dir + "/out.bin"])
        guard r.status == 0 else { throw GoldenError(message: "reference_gpt2.py failed: \(r.stderr)") }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/out.bin"))
        let values: [Double] = data.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        let N = batch.B * batch.T, nLogits = N * config.paddedVocabSize
        let total = ParameterTable(config).total
        guard values.count == 1 + N + nLogits + total else {
            throw GoldenError(message: "reference wrote \(values.count) values, expected \(1 + N + nLogits + total)")
        }
        return Reference(loss: values[0], losses: Array(values[1..<(1 + N)]),
                         logits: Array(values[(1 + N)..<(1 + N + nLogits)]),
                         gradients: Array(values[(1 + N + nLogits)...]))
    }

    @Test(arguments: [false, true])
    func matchesNumpyReference(packedAndMasked: Bool) throws {
        let B = 3, T = 13
        var rng = TestRandom(seed: 2024)
        let params = randomParameters(Self.config, seed: 77, scale: 0.2)
        var weights: [Float]? = nil, ids: [Int32]? = nil
        var targets = rng.tokens(B * T, below: Self.config.vocabSize)
        if packedAndMasked {
            // A prompt masked out per row, a fractional weight, and rows packed with 1 to 3 documents.
            weights = (0..<(B * T)).map { i in i % T < 3 ? 0 : (i % 5 == 0 ? 0.5 : 1) }
            for i in 0..<(B * T) where weights![i] == 0 { targets[i] = -1 }
            ids = (0..<(B * T)).map { i in
                let (b, t) = (i / T, i % T)
                return Int32(b == 0 ? 0 : (b == 1 ? (t < 6 ? 1 : 2) : t / 5))
            }
        }
        let batch = TokenBatch(B: B, T: T, inputs: rng.tokens(B * T, below: Self.config.vocabSize), targets: targets,
                               weights: weights, documentIDs: ids)
        guard let ref = try Self.reference(params: params, batch: batch) else {
            print("skipping the numpy golden test: no python in KILN_VENV or the repository's .venv (make venv)")
            return
        }

        let model = GPT(config: Self.config, parameters: params, threads: 2)
        let (lossSum, weightSum) = model.forward(batch)
        #expect(abs(lossSum / weightSum - ref.loss) < 1e-5 * abs(ref.loss), "loss \(lossSum / weightSum) vs \(ref.loss)")
        #expect(GradientCheck.normalisedError(model.tokenLosses, ref.losses) < 1e-5)
        var logits: [Float] = []
        for b in 0..<B { for t in 0..<T { logits += model.logits(b: b, t: t) } }
        #expect(GradientCheck.normalisedError(logits, ref.logits) < 1e-5)

        model.backward(lossScale: Float(1 / weightSum))
        let table = ParameterTable(Self.config)
        let grads = Array(model.gradients)
        for t in ParameterTensor.allCases {
            let r = table.range(t)
            let err = GradientCheck.normalisedError(Array(grads[r]), Array(ref.gradients[r]))
            #expect(err < 1e-4, "\(t.name): normalised error \(err)")
        }
        let padStart = table.offset(.wte) + Self.config.vocabSize * Self.config.channels
        #expect(grads[padStart ..< table.range(.wte).upperBound].allSatisfy { $0 == 0 })
    }
}
