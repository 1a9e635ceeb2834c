import Foundation
import GPTModel
import ShardFormat
import Tokenization

/// Sampling settings for `tune generate` and exact-match evaluation.
public struct SamplingOptions: Codable, Equatable, Sendable {
    /// 0 picks the most likely token (greedy).
    public var temperature = 0.8
    /// Keep the k most likely tokens (0: all).
    public var topK = 40
    /// Keep the smallest set of tokens whose probability reaches p (1: all).
    public var topP = 0.95
    public var maxTokens = 128
    public var seed: UInt64 = 42
    public init() {}
    public static let greedy: SamplingOptions = { var s = SamplingOptions(); s.temperature = 0; return s }()
}

/// Token-by-token generation with the KV cache.
public struct Generator {
    public let model: GPT

    public init(model: GPT) { self.model = model }

    /// Generates after `prompt` until a token of `stop` (not included) or `maxTokens`; calls
    /// `onToken` as each token arrives. A prompt too long for the model keeps its end.
    public func generate(prompt: [Int], options: SamplingOptions, stop: Set<Int>,
                         onToken: (Int) -> Void = { _ in }) -> [Int] {
        let maxT = model.config.maxSeqLen
        var context = prompt.isEmpty ? [Array(stop).min() ?? 0] : prompt
        let room = max(1, maxT - min(options.maxTokens, maxT / 2))
        if context.count > room { context = Array(context.suffix(room)) }
        let cache = model.makeCache(batch: 1)
        var logits = model.forwardIncremental(context.map(Int32.init), cache: cache)
        var rng = Xoshiro256StarStar(seed: options.seed)
        var out: [Int] = []
        while out.count < options.maxTokens && cache.count < maxT {
            let next = Self.sample(Array(logits.prefix(model.config.vocabSize)), options: options, rng: &rng)
            if stop.contains(next) { break }
            out.append(next)
            onToken(next)
            guard cache.count < maxT else { break }
            logits = model.forwardIncremental([Int32(next)], cache: cache)
        }
        return out
    }

    /// Temperature, then top-k, then top-p (nucleus), then a draw; greedy at temperature 0.
    public static func sample(_ logits: [Float], options o: SamplingOptions, rng: inout Xoshiro256StarStar) -> Int {
        if o.temperature <= 0 {
            var best = 0
            for i in logits.indices where logits[i] > logits[best] { best = i }
            return best
        }
        var order = Array(logits.indices).sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        if o.topK > 0 && o.topK < order.count { order.removeSubrange(o.topK...) }
        let mx = Double(logits[order[0]])
        var probs = order.map { exp((Double(logits[$0]) - mx) / o.temperature) }
        let total = probs.reduce(0, +)
        probs = probs.map { $0 / total }
        if o.topP < 1 {
            var acc = 0.0, keep = 0
            while keep < probs.count { acc += probs[keep]; keep += 1; if acc >= o.topP { break } }
            order.removeSubrange(keep...)
            probs.removeSubrange(keep...)
        }
        let sum = probs.reduce(0, +)
        var u = rng.nextUniform() * sum
        for (k, p) in probs.enumerated() {
            u -= p
            if u <= 0 { return order[k] }
        }
        return order[order.count - 1]
    }
}

/// Downstream-task evaluation: each record of a task file is a prompt and its answer, in one
/// of the SFT shapes (`messages`, `prompt`/`completion`, `instruction`/`input`/`output`). With
/// `choices` (and `completion` or an `answer` index naming the right one) it is scored as
/// classification, by the log-likelihood of each choice; without, by exact match of the greedy
/// answer. Every record also gives the loss of its reference answer (teacher-forced, per
/// answer token), the number that shows whether fine-tuning helped.
public struct TaskEvaluator {
    public let model: GPT
    public let renderer: ChatRenderer

    public init(model: GPT, renderer: ChatRenderer) {
        self.model = model
        self.renderer = renderer
    }

    public struct Report: Codable, Equatable, Sendable {
        public var file: String
        public var records = 0
        public var skipped = 0
        /// Records scored by choices, and how many the model got right.
        public var classified = 0
        public var correct = 0
        /// Records scored by exact match of the greedy answer.
        public var generated = 0
        public var exactMatches = 0
        /// Mean loss per answer token of the reference answers, and their token count.
        public var answerLoss = 0.0
        public var answerTokens = 0
        /// correct / classified, and exact matches / generated (nil when there were none).
        public var accuracy: Double?
        public var exactMatch: Double?
        /// A few answers, for people.
        public var examples: [String] = []

        public init(file: String) { self.file = file }
    }

    /// The turns of a task record, and its choices with the index of the right one.
    static func parse(_ r: [String: Any]) -> (turns: [SFTTurn], choices: [String]?, answer: Int?)? {
        var turns: [SFTTurn]
        if let msgs = r["messages"] as? [[String: Any]] {
            turns = msgs.compactMap { m in
                guard let role = (m["role"] as? String).flatMap(SFTTurn.Role.init(rawValue:)), let c = m["content"] as? String else { return nil }
                return SFTTurn(role: role, content: c)
            }
            guard turns.count == msgs.count else { return nil }
        } else if let p = r["prompt"] as? String, let c = r["completion"] as? String {
            turns = [SFTTurn(role: .prompt, content: p), SFTTurn(role: .completion, content: c)]
        } else if let i = r["instruction"] as? String, let o = r["output"] as? String {
            let input = (r["input"] as? String) ?? ""
            turns = [SFTTurn(role: .user, content: input.isEmpty ? i : i + "\n\n" + input), SFTTurn(role: .assistant, content: o)]
        } else {
            return nil
        }
        guard let last = turns.last, last.trained else { return nil }
        let choices = r["choices"] as? [String]
        var answer = r["answer"] as? Int
        if answer == nil, let choices { answer = choices.firstIndex(of: last.content) }
        return (turns, choices, answer)
    }

    /// Tokens of the rendered record and where its last answer starts.
    func render(_ turns: [SFTTurn]) throws -> (tokens: [Int32], answerStart: Int) {
        let r = try renderer.render(turns, maxTokens: Int.max)
        guard let a = r.answers.last else { throw SFTError(reason: .noAnswer, message: "no answer") }
        return (r.tokens.map { Int32($0) }, a.lowerBound)
    }

    /// −log p(tokens[start...] | tokens[..<start]) for each sequence, in one batch.
    func answerLosses(_ seqs: [(tokens: [Int32], answerStart: Int)]) -> [(loss: Double, count: Int)] {
        let maxT = model.config.maxSeqLen
        // Keep each sequence's end: the answer matters more than the start of a long prompt.
        let cut = seqs.map { s -> (tokens: [Int32], answerStart: Int) in
            let drop = max(0, s.tokens.count - (maxT + 1))
            return (Array(s.tokens.dropFirst(drop)), max(1, s.answerStart - drop))
        }
        let T = max(1, cut.map { $0.tokens.count - 1 }.max() ?? 1)
        var inputs: [Int32] = [], targets: [Int32] = [], weights: [Float] = []
        for s in cut {
            for t in 0..<T {
                let ok = t + 1 < s.tokens.count
                inputs.append(t < s.tokens.count ? s.tokens[t] : 0)
                targets.append(ok ? s.tokens[t + 1] : 0)
                weights.append(ok && t + 1 >= s.answerStart ? 1 : 0)
            }
        }
        _ = model.forward(TokenBatch(B: cut.count, T: T, inputs: inputs, targets: targets, weights: weights))
        let losses = model.tokenLosses
        return cut.indices.map { b in
            var sum = 0.0, n = 0
            for t in 0..<T where weights[b * T + t] > 0 { sum += Double(losses[b * T + t]); n += 1 }
            return (sum, n)
        }
    }

    public func evaluate(file: String, limit: Int? = nil, maxAnswerTokens: Int = 64) throws -> Report {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw DataError(message: "\(file): cannot read the task file")
        }
        var report = Report(file: file)
        var lossSum = 0.0
        let eot = renderer.endOfText
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let limit, report.records >= limit { break }
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                report.skipped += 1
                continue
            }
            report.records += 1
            guard let (turns, choices, answer) = Self.parse(obj), let ref = try? render(turns) else {
                report.skipped += 1
                continue
            }
            let r = answerLosses([ref])[0]
            lossSum += r.loss
            report.answerTokens += r.count
            if let choices, let answer, choices.indices.contains(answer) {
                var seqs: [(tokens: [Int32], answerStart: Int)] = []
                for c in choices {
                    var t = turns
                    t[t.count - 1].content = c
                    seqs.append(try render(t))
                }
                let scores = answerLosses(seqs).map { -$0.loss }
                let pick = scores.indices.max { scores[$0] < scores[$1] }!
                report.classified += 1
                if pick == answer { report.correct += 1 }
                if report.examples.count < 5 { report.examples.append("\(choices[pick]) (reference: \(choices[answer]))") }
            } else {
                var o = SamplingOptions.greedy
                o.maxTokens = maxAnswerTokens
                let out = Generator(model: model).generate(prompt: ref.tokens[..<ref.answerStart].map(Int.init), options: o, stop: [eot])
                let text = String(decoding: (try? renderer.tokenizer.decode(out)) ?? [], as: UTF8.self)
                let want = turns.last!.content
                report.generated += 1
                if text.trimmingCharacters(in: .whitespacesAndNewlines) == want.trimmingCharacters(in: .whitespacesAndNewlines) {
                    report.exactMatches += 1
                }
                if report.examples.count < 5 { report.examples.append("\(text.trimmingCharacters(in: .whitespacesAndNewlines)) (reference: \(want))") }
            }
        }
        report.answerLoss = report.answerTokens > 0 ? lossSum / Double(report.answerTokens) : .nan
        report.accuracy = report.classified > 0 ? Double(report.correct) / Double(report.classified) : nil
        report.exactMatch = report.generated > 0 ? Double(report.exactMatches) / Double(report.generated) : nil
        return report
    }
}

/// Loss per token over a split of token shards (every batch of one pass).
public func evaluateShards(model: GPT, shards: [MappedShard], B: Int, T: Int, packing: Packing, padToken: Int32,
                           maxBatches: Int? = nil) throws -> (loss: Double, tokens: Double) {
    let supervised = shards.first?.index?.mask != nil
    var loader: BatchLoader = supervised
        ? try ExampleLoader(shards: shards, B: B, T: T, packing: packing, seed: 0, padToken: padToken)
        : try WindowLoader(shards: shards, B: B, T: T, order: .shuffle, seed: 0)
    var loss = 0.0, weight = 0.0
    for _ in 0..<min(loader.batchesPerEpoch, maxBatches ?? .max) {
        let r = model.forward(loader.next())
        loss += r.lossSum
        weight += r.weightSum
    }
    return (weight > 0 ? loss / weight : .nan, weight)
}
