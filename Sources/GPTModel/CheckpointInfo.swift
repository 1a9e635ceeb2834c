// What `tune info` shows about a checkpoint: its shape, size, the checks it passed, and
// per-tensor statistics that make a broken or untrained model visible at a glance.

/// A description of a checkpoint file. Structural faults (wrong magic, bad size, bad names)
/// still throw `CheckpointError`; value faults (NaN, nonzero pad rows) are failed checks here,
/// so a diverged checkpoint can be inspected.
public struct CheckpointInfo: Sendable, Codable {
    public struct Check: Sendable, Codable, Equatable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }

    /// Statistics of one tensor over its finite values.
    public struct TensorStats: Sendable, Codable, Equatable {
        public var name: String
        public var shape: [Int]
        public var count: Int
        /// nil when no value is finite.
        public var min: Float?
        public var max: Float?
        /// Mean of |w|.
        public var meanAbs: Double
        /// Standard deviation (population).
        public var std: Double
        public var nonFinite: Int
    }

    public var path: String
    /// The files read: the model file, or model.safetensors and config.json.
    public var files: [String]
    /// e.g. "llm.c model v3 (float32)".
    public var format: String
    public var config: GPTConfig
    /// Parameters including wte's pad rows (what the file holds for llm.c).
    public var parameterCount: Int
    /// Parameters without the pad rows (GPT-2 124M: 124,439,808).
    public var unpaddedParameterCount: Int
    public var dtype: WeightType
    /// Bytes of the files read (safetensors and config.json for HF).
    public var fileBytes: Int
    public var checks: [Check]
    public var tensors: [TensorStats]

    /// True when every check passed.
    public var ok: Bool { checks.allSatisfy(\.passed) }

    public static func inspect(path: String) throws -> CheckpointInfo {
        let loaded = try Checkpoint.load(path: path, validateValues: false)
        let ck = loaded.checkpoint, c = ck.config, table = ck.table
        var checks = loaded.checks.map { Check(name: $0.0, passed: true, detail: $0.1) }
        var stats: [TensorStats] = []
        for t in ParameterTensor.allCases {
            stats.append(tensorStats(t.name, shape: t.shape(c), ck.parameters[table.range(t)]))
        }
        let bad = stats.filter { $0.nonFinite > 0 }
        checks.append(Check(name: "finite", passed: bad.isEmpty, detail: bad.isEmpty
            ? "no NaN or infinity" : "first: \(ck.firstNonFinite() ?? ""); NaN/Inf count per tensor: "
              + bad.map { "\($0.name) \($0.nonFinite)" }.joined(separator: ", ")))
        let pad = ck.parameters[(c.vocabSize * c.channels) ..< (c.paddedVocabSize * c.channels)]
        let nonzero = pad.reduce(0) { $0 + ($1 == 0 ? 0 : 1) }
        checks.append(Check(name: "padRows", passed: nonzero == 0, detail: nonzero == 0
            ? "wte rows \(c.vocabSize)..<\(c.paddedVocabSize) are zero"
            : "\(nonzero) nonzero values in wte's pad rows \(c.vocabSize)..<\(c.paddedVocabSize) (llm.c writes zeros)"))
        return CheckpointInfo(path: path, files: loaded.files, format: loaded.format, config: c, parameterCount: table.total,
                              unpaddedParameterCount: table.total - (c.paddedVocabSize - c.vocabSize) * c.channels,
                              dtype: ck.sourceType, fileBytes: loaded.fileBytes, checks: checks, tensors: stats)
    }

    static func tensorStats(_ name: String, shape: [Int], _ v: ArraySlice<Float>) -> TensorStats {
        var lo = Float.infinity, hi = -Float.infinity
        var sum = 0.0, sumAbs = 0.0, sumSq = 0.0
        var finite = 0
        for x in v where x.isFinite {
            lo = Swift.min(lo, x)
            hi = Swift.max(hi, x)
            let d = Double(x)
            sum += d
            sumAbs += abs(d)
            sumSq += d * d
            finite += 1
        }
        let n = Double(Swift.max(finite, 1))
        let mean = sum / n
        return TensorStats(name: name, shape: shape, count: v.count, min: finite > 0 ? lo : nil,
                           max: finite > 0 ? hi : nil, meanAbs: sumAbs / n,
                           std: Swift.max(0, sumSq / n - mean * mean).squareRoot(), nonFinite: v.count - finite)
    }
}
