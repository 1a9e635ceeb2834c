// llm.c GPT-2 model files (../shared/docs/FORMATS.md §1), read and written as llm.c's
// train_gpt2.py `write_model` and train_gpt2.c `gpt2_build_from_checkpoint` do:
//
//   header: 256 little-endian int32 (1024 bytes)
//     [0] magic 20240326  [1] version: 3 = float32, 5 = bfloat16  [2] maxT  [3] V  [4] L
//     [5] NH  [6] C  [7] Vp  [8..255] zero
//   then every parameter in ParameterTable order, packed: no padding, nothing after the last.
//
// File size = 1024 + N × (4 or 2). There is no checksum, so the size is the only check that the
// data matches the header, and it is made before any data is trusted.

enum LlmcCheckpoint {
    static let magic: Int32 = 20240326
    static let headerBytes = 1024
    /// Other llm.c magics, so that a wrong file is named for what it is.
    static let otherMagics: [Int32: String] = [
        20240327: "an llm.c debug state file", 20240328: "an llm.c tokenizer file",
        20240520: "an llm.c token shard", 20240522: "an llm.c multiple-choice eval file",
        20240527: "an llm.c optimizer state file", 20240801: "an llm.c Llama-3 token shard",
        20240803: "an llm.c Llama-3 model file",
    ]
    /// Elements converted per step when bfloat16 goes through a buffer (1 MiB of halfwords).
    static let chunk = 1 << 19
    /// Larger than any model a 64-bit machine here could hold: a header claiming more is corrupt,
    /// and rejecting it first keeps the size arithmetic from overflowing.
    static let maxParameters = 1 << 40

    static func version(_ type: WeightType) -> Int32 { type == .float32 ? 3 : 5 }

    /// The 256 header slots, or nil when a size does not fit the format's int32.
    static func header(_ c: GPTConfig, type: WeightType) -> [Int32]? {
        var h = [Int32](repeating: 0, count: headerBytes / 4)
        h[0] = magic
        h[1] = version(type)
        for (slot, value) in [c.maxSeqLen, c.vocabSize, c.numLayers, c.numHeads, c.channels, c.paddedVocabSize].enumerated() {
            guard let v = Int32(exactly: value) else { return nil }
            h[2 + slot] = v
        }
        return h
    }

    static func read(_ file: ReadableFile, validateValues: Bool) throws -> LoadedCheckpoint {
        func fail(_ reason: CheckpointError.Reason, _ message: String) -> CheckpointError {
            CheckpointError(path: file.path, reason: reason, message: message)
        }
        guard file.size >= headerBytes else {
            throw fail(.truncated, "\(file.size) bytes: shorter than the 1024-byte llm.c header")
        }
        let h: [Int32] = try file.bytes(headerBytes, at: 0).withUnsafeBytes { p in
            (0..<8).map { Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        }
        guard h[0] == magic else {
            if let other = otherMagics[h[0]] { throw fail(.badMagic, "this is \(other), not a GPT-2 model file") }
            throw fail(.badMagic, "magic \(h[0]), expected \(magic) (llm.c GPT-2 model)")
        }
        let type: WeightType
        switch h[1] {
        case 3: type = .float32
        case 5: type = .bfloat16
        case 1, 2, 4:
            throw fail(.obsoleteVersion, "version \(h[1]) is an obsolete llm.c format (1: float32 without the padded "
                       + "vocabulary, 2: early bfloat16, 4: bfloat16 with float32 layernorms); re-export it with a "
                       + "current llm.c as version 3 or 5")
        default:
            throw fail(.unsupportedVersion, "unknown version \(h[1]); llm.c model files are version 3 (float32) or 5 (bfloat16)")
        }
        let config = GPTConfig(maxSeqLen: Int(h[2]), vocabSize: Int(h[3]), paddedVocabSize: Int(h[7]),
                               numLayers: Int(h[4]), numHeads: Int(h[5]), channels: Int(h[6]))
        if let problem = config.problem { throw fail(.badConfig, "header: \(problem)") }
        guard estimatedParameters(config) < Double(maxParameters) else {
            throw fail(.badConfig, "header describes an implausibly large model (\(config))")
        }
        let count = ParameterTable(config).total
        let expected = headerBytes + count * type.size
        guard file.size == expected else {
            throw fail(file.size < expected ? .truncated : .sizeMismatch,
                       "the header (\(config), \(type.rawValue)) needs 1024 + \(count) × \(type.size) = \(expected) bytes, "
                       + "the file has \(file.size)")
        }
        let parameters: [Float]
        switch type {
        case .float32:
            parameters = try file.floats(count, at: headerBytes)
        case .bfloat16:
            parameters = try [Float](unsafeUninitializedCapacity: count) { out, initialized in
                var words = [UInt16](repeating: 0, count: min(chunk, count))
                var start = 0
                while start < count {
                    let n = min(chunk, count - start)
                    try words.withUnsafeMutableBytes { w in
                        try file.read(into: UnsafeMutableRawBufferPointer(rebasing: w[0..<(2 * n)]), at: headerBytes + 2 * start)
                    }
                    for i in 0..<n { out[start + i] = BFloat16.float(words[i]) }
                    start += n
                }
                initialized = count
            }
        }
        let checkpoint = Checkpoint(config: config, parameters: parameters, sourceType: type)
        if validateValues, let bad = checkpoint.firstNonFinite() { throw fail(.nonFinite, bad) }
        return LoadedCheckpoint(
            checkpoint: checkpoint, format: "llm.c model v\(h[1]) (\(type.rawValue))", files: [file.path],
            fileBytes: file.size,
            checks: [("header", "magic \(magic), version \(h[1]), \(config)"),
                     ("size", "1024 + \(count) × \(type.size) = \(expected) bytes")])
    }

    static func write(_ checkpoint: Checkpoint, to path: String, type: WeightType) throws {
        let params = checkpoint.parameters
        precondition(params.count == checkpoint.table.total, "parameters do not match the config")
        if let problem = checkpoint.config.problem {
            throw CheckpointError(path: path, reason: .badConfig, message: "refusing to write: \(problem)")
        }
        // A NaN written is a file no reader accepts: fail now, where the cause is.
        if let bad = checkpoint.firstNonFinite() {
            throw CheckpointError(path: path, reason: .nonFinite, message: "refusing to write: \(bad)")
        }
        guard let header = header(checkpoint.config, type: type) else {
            throw CheckpointError(path: path, reason: .badConfig,
                                  message: "refusing to write: \(checkpoint.config) does not fit the int32 header")
        }
        let out = try AtomicFileWriter(path: path)
        try header.withUnsafeBytes { try out.write($0) }
        switch type {
        case .float32:
            try out.write(params)
        case .bfloat16:
            var words = [UInt16](repeating: 0, count: min(chunk, params.count))
            var start = 0
            while start < params.count {
                let n = min(chunk, params.count - start)
                for i in 0..<n {
                    words[i] = BFloat16.bits(params[start + i])
                    // Values beyond bfloat16's range (|x| ≥ 2^128 · (1 - 2^-9)) round to infinity.
                    if words[i] & 0x7F80 == 0x7F80 {
                        let t = checkpoint.table
                        let tensor = ParameterTensor.allCases.last { t.offset($0) <= start + i } ?? .wte
                        let place = Checkpoint.describe(tensor, element: start + i - t.offset(tensor), table: t)
                        throw CheckpointError(path: path, reason: .nonFinite,
                                              message: "refusing to write: \(place) = \(params[start + i]) overflows bfloat16")
                    }
                }
                try words[0..<n].withUnsafeBytes { try out.write($0) }
                start += n
            }
        }
        try out.commit()
    }

    /// The parameter count in Double arithmetic, which cannot overflow whatever the header says.
    static func estimatedParameters(_ c: GPTConfig) -> Double {
        let C = Double(c.channels), L = Double(c.numLayers)
        return Double(c.paddedVocabSize) * C + Double(c.maxSeqLen) * C + L * (12 * C * C + 13 * C) + 2 * C
    }
}
