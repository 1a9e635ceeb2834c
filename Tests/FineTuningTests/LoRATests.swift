import FineTuning
import Foundation
import GPTModel
import Testing
import TestSupport

@Suite struct LoRATests {
    static let config = GPTConfig(maxSeqLen: 8, vocabSize: 37, numLayers: 2, numHeads: 2, channels: 12)

    static func batch() -> TokenBatch {
        var g = MersenneTwister(seed: 11)
        let n = 2 * 7
        return TokenBatch(B: 2, T: 7, inputs: (0..<n).map { _ in Int32(g.next() % 37) },
                          targets: (0..<n).map { _ in Int32(g.next() % 37) },
                          weights: (0..<n).map { $0 % 3 == 0 ? 0 : 1 })
    }

    static func lora(rank: Int = 3, targets: [LoRATarget] = LoRATarget.allCases) -> LoRAModel {
        let base = Checkpoint.random(config: config, seed: 3)
        var o = LoRAOptions()
        o.rank = rank; o.alpha = 6; o.targets = targets
        let m = LoRAModel(model: GPT(config: config, parameters: base.parameters, threads: 1), options: o, seed: 5)
        // B starts at zero; give it values so that both gradients are exercised.
        var g = MersenneTwister(seed: 9)
        for i in m.parameters.indices where m.parameters[i] == 0 { m.parameters[i] = Float(Int(g.next() % 200) - 100) / 2000 }
        return m
    }

    /// The adapters' gradients against finite differences of the loss (in Double).
    @Test func adapterGradientsMatchFiniteDifferences() {
        let m = Self.lora()
        let b = Self.batch()
        func loss() -> Double { let r = m.forward(b); return r.lossSum / r.weightSum }
        let w = m.forward(b).weightSum
        m.zeroGradients()
        m.backward(lossScale: Float(1 / w))
        let analytic = Array(m.gradients)
        var worst = 0.0
        var g = MersenneTwister(seed: 1)
        for _ in 0..<40 {
            let i = Int(g.next() % UInt32(m.parameters.count))
            let keep = m.parameters[i]
            let h: Float = 1e-2
            m.parameters[i] = keep + h; let up = loss()
            m.parameters[i] = keep - h; let down = loss()
            m.parameters[i] = keep
            let numeric = (up - down) / (2 * Double(h))
            worst = max(worst, abs(numeric - Double(analytic[i])) / max(1e-3, abs(numeric) + abs(Double(analytic[i]))))
        }
        #expect(worst < 2e-2, "worst relative error \(worst)")
    }

    /// A merged LoRA gives the same logits as the base model with the adapter.
    @Test func mergedEqualsBasePlusAdapter() throws {
        let m = Self.lora(targets: [.qkv, .fcProj])
        let b = Self.batch()
        _ = m.forward(b)
        let withAdapter = m.model.logits(b: 1, t: 6)
        let merged = m.mergedCheckpoint()
        let plain = GPT(config: Self.config, parameters: merged.parameters, threads: 1)
        _ = plain.forward(b)
        #expect(plain.logits(b: 1, t: 6) == withAdapter)
        // Only the targeted matrices differ from the base.
        let base = Checkpoint.random(config: Self.config, seed: 3)
        for t in ParameterTensor.allCases {
            let changed = merged.values(t) != base.values(t)
            #expect(changed == (t == .qkvw || t == .fcprojw), "\(t)")
        }
    }

    @Test func freshAdaptersLeaveTheModelAsItWasAndRoundTrip() throws {
        let base = Checkpoint.random(config: Self.config, seed: 3)
        var o = LoRAOptions()
        o.rank = 2
        let fresh = LoRAModel(model: GPT(config: Self.config, parameters: base.parameters, threads: 1), options: o, seed: 1)
        #expect(fresh.mergedCheckpoint().parameters == base.parameters)
        let dir = Fixtures.tempDir("lora")
        let m = Self.lora()
        try m.saveAdapters(to: dir + "/adapter.safetensors", baseModel: "base.bin")
        let (opts, baseName) = try LoRAModel.config(at: dir)
        #expect(opts.rank == 3 && opts.alpha == 6 && opts.targets == LoRATarget.allCases && baseName == "base.bin")
        let back = LoRAModel(model: GPT(config: Self.config, parameters: base.parameters, threads: 1), options: opts, seed: 99)
        try back.loadAdapters(from: dir + "/adapter.safetensors")
        #expect(Array(back.parameters) == Array(m.parameters))
    }
}
