import Testing
import TestSupport
@testable import GPTModel

/// A tinyConfig model with odd sizes: head size 4 (no SIMD body), V not a multiple of anything.
let tinyConfig = GPTConfig(maxSeqLen: 8, vocabSize: 37, paddedVocabSize: 64, numLayers: 2, numHeads: 3, channels: 12)

/// Random parameters around llm.c's initialisation scale, large enough that every path carries
/// gradient. Pad rows of wte are random too (not zero as in llm.c files): they must still get
/// no gradient and no probability.
func randomParameters(_ config: GPTConfig, seed: UInt64, scale: Float = 0.3) -> [Float] {
    var rng = TestRandom(seed: seed)
    let table = ParameterTable(config)
    var p = rng.floats(table.total, -scale, scale)
    for t in [ParameterTensor.ln1w, .ln2w, .lnfw] {
        for i in table.range(t) { p[i] += 1 }
    }
    return p
}

struct BatchCase: Sendable, CustomStringConvertible {
    var name: String
    var weights: [Float]?
    var documentIDs: [Int32]?
    var description: String { name }
}

let batchCases: [BatchCase] = [
    BatchCase(name: "plain"),
    BatchCase(name: "loss mask and fractional weights",
              weights: [0, 0, 1, 1, 0.5, 1, 2, /**/ 1, 0, 1, 1, 1, 0, 0.25]),
    BatchCase(name: "packed documents",
              documentIDs: [4, 4, 4, 9, 9, 9, 9, /**/ 1, 2, 2, 2, 2, 3, 3]),
    BatchCase(name: "packed and masked",
              weights: [0, 1, 1, 0, 1, 1, 1, /**/ 1, 0, 1, 1, 1, 0, 1],
              documentIDs: [0, 0, 0, 1, 1, 1, 1, /**/ 0, 0, 0, 0, 2, 2, 2]),
]

func tinyBatch(_ c: BatchCase, seed: UInt64 = 7) -> TokenBatch {
    var rng = TestRandom(seed: seed)
    let B = 2, T = 7
    var targets = rng.tokens(B * T, below: tinyConfig.vocabSize)
    // Targets under weight 0 are ignored: make them invalid to prove it.
    if let w = c.weights { for i in w.indices where w[i] == 0 { targets[i] = -1 } }
    return TokenBatch(B: B, T: T, inputs: rng.tokens(B * T, below: tinyConfig.vocabSize), targets: targets,
                      weights: c.weights, documentIDs: c.documentIDs)
}

@Suite struct GPTTests {
    /// Three threads: more chunks than rows in some kernels, so the parallel paths and their
    /// edges run (the kernel tests cover one thread).
    @Test(arguments: batchCases)
    func gradientsMatchFiniteDifferences(_ c: BatchCase) {
        let threads = 3
        let params = randomParameters(tinyConfig, seed: 1)
        let batch = tinyBatch(c)
        let model = GPT(config: tinyConfig, parameters: params, threads: threads)
        let (lossSum, weightSum) = model.forward(batch)
        let naive = NaiveGPT.meanLoss(params.doubles, tinyConfig, batch)
        #expect(abs(lossSum / weightSum - naive) < 1e-5 * abs(naive), "loss \(lossSum / weightSum) vs \(naive)")
        model.backward(lossScale: Float(1 / weightSum))
        let grads = Array(model.gradients)

        // Every tensor: its first and last elements and a random sample, against central
        // differences of the Double model.
        let table = ParameterTable(tinyConfig)
        var rng = TestRandom(seed: 99)
        for t in ParameterTensor.allCases {
            let r = table.range(t)
            var indices = Set([r.lowerBound, r.upperBound - 1])
            while indices.count < min(14, r.count) { indices.insert(Int.random(in: r, using: &rng)) }
            let sample = indices.sorted()
            let numeric = GradientCheck.numericGradient(of: { NaiveGPT.meanLoss($0, tinyConfig, batch) },
                                                        at: params.doubles, indices: sample)
            let analytic = sample.map { Double(grads[$0]) }
            let err = GradientCheck.normalisedError(analytic, numeric, floor: 1e-6)
            #expect(err < 2e-3, "\(t.name): normalised error \(err)")
        }
        // Pad rows of the tied embedding: no gradient at all.
        let padStart = table.offset(.wte) + tinyConfig.vocabSize * tinyConfig.channels
        #expect(grads[padStart ..< table.range(.wte).upperBound].allSatisfy { $0 == 0 })
        // Rows of tokens that appear nowhere still get gradient through the output head.
        #expect(grads[table.range(.wte)].contains { $0 != 0 })
    }

    /// The ranges `gradientsReady` reports cover every gradient exactly once, each is final when
    /// reported (what data-parallel training sends then is what the pass ends with), and the
    /// top layer comes before the bottom one.
    @Test func gradientsReadyReportsEachRangeOnceWhenFinal() {
        let model = GPT(config: tinyConfig, parameters: randomParameters(tinyConfig, seed: 3), threads: 2)
        let batch = tinyBatch(batchCases[3])
        model.forward(batch)
        model.backward(lossScale: 1)  // a first micro-batch: the ranges must be final with respect to this pass
        model.forward(batch)
        var seen: [(range: Range<Int>, values: [Float])] = []
        model.backward(lossScale: 0.5) { range in seen.append((range, Array(model.gradients[range]))) }
        var covered = [Int](repeating: 0, count: model.table.total)
        for s in seen {
            for i in s.range { covered[i] += 1 }
            #expect(Array(model.gradients[s.range]) == s.values, "\(s.range) changed after it was reported")
        }
        #expect(covered.allSatisfy { $0 == 1 })
        let top = model.table.offset(.qkvw, layer: tinyConfig.numLayers - 1), bottom = model.table.offset(.qkvw, layer: 0)
        let order = seen.map(\.range.lowerBound)
        #expect(order.firstIndex(of: top)! < order.firstIndex(of: bottom)!)
        #expect(seen.last.map { $0.range == model.table.range(.lnfb) } == true)
    }

    @Test func backwardAccumulatesAndZeroGradientsClears() {
        let model = GPT(config: tinyConfig, parameters: randomParameters(tinyConfig, seed: 2), threads: 2)
        let batch = tinyBatch(batchCases[1])
        model.forward(batch)
        model.backward(lossScale: 1)
        let once = Array(model.gradients)
        model.forward(batch)
        model.backward(lossScale: 0.5)
        let twice = Array(model.gradients)
        let want = once.map { Double($0) * 1.5 }
        #expect(GradientCheck.normalisedError(twice, want) < 1e-6)
        model.zeroGradients()
        #expect(model.gradients.allSatisfy { $0 == 0 })
    }

    @Test func forwardMatchesNaiveLogits() {
        let params = randomParameters(tinyConfig, seed: 3)
        let batch = tinyBatch(batchCases[3])
        let model = GPT(config: tinyConfig, parameters: params, threads: 2)
        model.forward(batch)
        let want = NaiveGPT.forward(params.doubles, tinyConfig, batch).logits
        var got: [Float] = []
        for b in 0..<batch.B { for t in 0..<batch.T { got += model.logits(b: b, t: t) } }
        #expect(GradientCheck.normalisedError(got, want) < 1e-5)
    }

    @Test(arguments: [1, 3])
    func kvCacheLogitsEqualFullForward(threads: Int) {
        let model = GPT(config: tinyConfig, parameters: randomParameters(tinyConfig, seed: 4), threads: threads)
        let batch = tinyBatch(batchCases[0])
        model.forward(batch)
        let B = batch.B, T = batch.T, Vp = tinyConfig.paddedVocabSize
        let cache = model.makeCache(batch: B)
        // A prompt of 3 positions in one go, then one position at a time.
        var start = 0
        for n in [3, 1, 1, 1, 1] {
            var tokens: [Int32] = []
            for b in 0..<B { tokens += batch.inputs[(b * T + start) ..< (b * T + start + n)] }
            let logits = model.forwardIncremental(tokens, cache: cache)
            start += n
            #expect(cache.count == start)
            for b in 0..<B {
                let want = model.logits(b: b, t: start - 1).doubles
                let got = Array(logits[(b * Vp) ..< ((b + 1) * Vp)])
                #expect(GradientCheck.normalisedError(got, want) < 1e-5, "b \(b) position \(start - 1)")
            }
        }
        cache.reset()
        #expect(cache.count == 0)
    }

    /// Two examples packed into one row with document ids give the same per-token losses, and
    /// the same gradients, as the two examples run alone.
    @Test func packedExamplesMatchSeparateRuns() {
        let params = randomParameters(tinyConfig, seed: 5)
        var rng = TestRandom(seed: 6)
        let a = rng.tokens(4, below: tinyConfig.vocabSize), b = rng.tokens(3, below: tinyConfig.vocabSize)
        let ta = rng.tokens(4, below: tinyConfig.vocabSize), tb = rng.tokens(3, below: tinyConfig.vocabSize)
        let model = GPT(config: tinyConfig, parameters: params, threads: 2)

        model.forward(TokenBatch(B: 1, T: 4, inputs: a, targets: ta))
        let lossA = model.tokenLosses
        model.backward(lossScale: 1)
        model.forward(TokenBatch(B: 1, T: 3, inputs: b, targets: tb))
        let lossB = model.tokenLosses
        model.backward(lossScale: 1)
        let separate = Array(model.gradients)

        model.zeroGradients()
        let packed = TokenBatch(B: 1, T: 7, inputs: a + b, targets: ta + tb,
                                documentIDs: [7, 7, 7, 7, 8, 8, 8])
        model.forward(packed)
        let lossPacked = model.tokenLosses
        model.backward(lossScale: 1)
        #expect(GradientCheck.normalisedError(lossPacked, (lossA + lossB).doubles) < 1e-5)
        #expect(GradientCheck.normalisedError(Array(model.gradients), separate.doubles) < 1e-5)

        // Without the ids the second example would see the first: the losses must differ.
        model.forward(TokenBatch(B: 1, T: 7, inputs: a + b, targets: ta + tb))
        #expect(GradientCheck.normalisedError(model.tokenLosses, (lossA + lossB).doubles) > 1e-3)
    }

    /// A token outside the vocabulary stops the process instead of reading a pad row or beyond.
    @Test func forwardStopsOnATokenOutsideTheVocabulary() async {
        await #expect(processExitsWith: .failure) {
            let model = GPT(config: tinyConfig, parameters: randomParameters(tinyConfig, seed: 8), threads: 1)
            model.forward(TokenBatch(B: 1, T: 2, inputs: [1, Int32(tinyConfig.vocabSize)], targets: [1, 2]))
        }
    }

    @Test func batchProblemsAreReported() {
        let ok = tinyBatch(batchCases[1])
        #expect(ok.problem(for: tinyConfig) == nil, "targets under weight 0 may be anything")
        var bad = ok
        bad.inputs[3] = Int32(tinyConfig.vocabSize)
        #expect(bad.problem(for: tinyConfig) != nil, "input = V is a pad row, not a token")
        bad = ok
        bad.targets[2] = -1
        #expect(bad.problem(for: tinyConfig) != nil, "target under weight 1 must be a token")
        bad = ok
        bad.weights?[0] = -1
        #expect(bad.problem(for: tinyConfig) != nil)
        let long = TokenBatch(B: 1, T: 9, inputs: [Int32](repeating: 0, count: 9), targets: [Int32](repeating: 0, count: 9))
        #expect(long.problem(for: tinyConfig) != nil, "T beyond maxSeqLen")
        #expect(TokenBatch(B: 1, T: 4, inputs: [0, 1, 2, 3], targets: [1, 2, 3, 4], documentIDs: [5, 5, 6, 6]).positions == [0, 1, 0, 1])
    }
}
