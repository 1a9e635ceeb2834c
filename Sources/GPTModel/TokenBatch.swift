// A batch of token sequences for training or evaluation: B rows of T tokens, row-major.

/// B rows of T tokens. Where `weights` gives a token weight 0, its target is ignored (a loss
/// mask); `documentIDs` packs several examples into one row: attention stays within a run of
/// equal ids and positions restart at each run, so a packed example sees exactly what it would
/// see alone.
public struct TokenBatch: Sendable, Equatable {
    public var B: Int
    public var T: Int
    /// (B, T) input tokens, each in 0..<V.
    public var inputs: [Int32]
    /// (B, T) next tokens, each in 0..<V where the weight is not 0.
    public var targets: [Int32]
    /// (B, T) loss weight per token; nil means all 1.
    public var weights: [Float]?
    /// (B, T) document id per token; nil means each row is one document.
    public var documentIDs: [Int32]?

    public init(B: Int, T: Int, inputs: [Int32], targets: [Int32], weights: [Float]? = nil,
                documentIDs: [Int32]? = nil) {
        self.B = B
        self.T = T
        self.inputs = inputs
        self.targets = targets
        self.weights = weights
        self.documentIDs = documentIDs
    }

    /// Why this batch cannot go through a model of shape `config`, or nil when it can.
    public func problem(for config: GPTConfig) -> String? {
        if B < 1 || T < 1 { return "batch shape \(B)×\(T) is empty" }
        if T > config.maxSeqLen { return "sequence length \(T) exceeds the model's \(config.maxSeqLen)" }
        let n = B * T
        if inputs.count != n { return "\(inputs.count) inputs for a \(B)×\(T) batch" }
        if targets.count != n { return "\(targets.count) targets for a \(B)×\(T) batch" }
        if let w = weights {
            if w.count != n { return "\(w.count) weights for a \(B)×\(T) batch" }
            if let i = w.firstIndex(where: { !$0.isFinite || $0 < 0 }) { return "weight \(w[i]) at \(i) is not a finite non-negative number" }
        }
        if let d = documentIDs, d.count != n { return "\(d.count) document ids for a \(B)×\(T) batch" }
        let V = config.vocabSize
        if let i = inputs.firstIndex(where: { $0 < 0 || Int($0) >= V }) {
            return "input token \(inputs[i]) at \(i) is outside the vocabulary 0..<\(V)"
        }
        for i in 0..<n where (weights?[i] ?? 1) != 0 && (targets[i] < 0 || Int(targets[i]) >= V) {
            return "target token \(targets[i]) at \(i) is outside the vocabulary 0..<\(V)"
        }
        return nil
    }

    /// (B, T) position of each token in its document: t without ids, else the distance to the
    /// start of its run of equal ids.
    public var positions: [Int32] {
        var pos = [Int32](repeating: 0, count: B * T)
        for b in 0..<B {
            for t in 0..<T {
                let i = b * T + t
                if let d = documentIDs {
                    pos[i] = t > 0 && d[i - 1] == d[i] ? pos[i - 1] + 1 : 0
                } else {
                    pos[i] = Int32(t)
                }
            }
        }
        return pos
    }
}
