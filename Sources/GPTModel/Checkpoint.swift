// A model's shape and parameters as plain values, and the files they come from and go to:
// llm.c model files (LlmcCheckpoint.swift) and Hugging Face GPT-2 folders (HFGPT2.swift).

/// How the weights are stored in a file.
public enum WeightType: String, Codable, Sendable {
    case float32, bfloat16

    /// Bytes per element.
    public var size: Int { self == .float32 ? 4 : 2 }
}

/// A model's shape and all its parameters in `ParameterTable` order: exactly what follows the
/// header of an llm.c model file, in float32.
public struct Checkpoint: Sendable {
    public var config: GPTConfig
    /// Count == `ParameterTable(config).total`.
    public var parameters: [Float]
    /// What the file held. Files mixing types, and F16 safetensors (which widen exactly), count
    /// as float32.
    public var sourceType: WeightType

    public init(config: GPTConfig, parameters: [Float], sourceType: WeightType = .float32) {
        precondition(parameters.count == ParameterTable(config).total,
                     "\(parameters.count) parameters for a model of \(ParameterTable(config).total) (\(config))")
        self.config = config
        self.parameters = parameters
        self.sourceType = sourceType
    }

    public var table: ParameterTable { ParameterTable(config) }

    /// The values of one tensor (all layers), row-major in llm.c's layout.
    public func values(_ t: ParameterTensor) -> ArraySlice<Float> { parameters[table.range(t)] }

    /// Reads a checkpoint, telling the format from the content: an llm.c model file (magic
    /// 20240326), a `.safetensors` file with `config.json` beside it, or a folder holding
    /// `model.safetensors` and `config.json`. Every value is checked to be finite.
    public static func read(path: String) throws -> Checkpoint {
        try load(path: path, validateValues: true).checkpoint
    }

    /// Reads an llm.c model file (version 3 or 5), without looking at other formats.
    public static func read(llmc path: String) throws -> Checkpoint {
        try LlmcCheckpoint.read(try ReadableFile(path: path), validateValues: true).checkpoint
    }

    /// Writes an llm.c model file: version 3 for float32, 5 for bfloat16 (rounded to nearest
    /// even, as PyTorch's `.to(torch.bfloat16)`). The file appears under `path` only when complete.
    public func write(llmc path: String, type: WeightType = .float32) throws {
        try LlmcCheckpoint.write(self, to: path, type: type)
    }

    /// Writes `model.safetensors` (float32) and `config.json` into `directory` (made if missing)
    /// so that transformers' `GPT2LMHeadModel.from_pretrained(directory)` loads it.
    ///
    /// - Parameter endOfTextToken: the `bos_token_id`/`eos_token_id` to record; by default GPT-2's
    ///   50256 when the vocabulary has it, otherwise none.
    public func writeHF(directory: String, endOfTextToken: Int? = nil) throws {
        try HFGPT2.write(self, directory: directory, endOfTextToken: endOfTextToken)
    }

    /// Where the first NaN or infinity lies, as "qkvw layer 1 element 37 is nan", or nil.
    public func firstNonFinite() -> String? {
        let table = self.table
        for t in ParameterTensor.allCases {
            let r = table.range(t)
            guard let i = parameters[r].firstIndex(where: { !$0.isFinite }) else { continue }
            return Checkpoint.describe(t, element: i - r.lowerBound, table: table) + " is \(parameters[i])"
        }
        return nil
    }

    static func describe(_ t: ParameterTensor, element: Int, table: ParameterTable) -> String {
        if t.isPerLayer {
            let per = table.layerCount(t)
            return "\(t.name) layer \(element / per) element \(element % per) of \(per)"
        }
        return "\(t.name) element \(element) of \(table.count(t))"
    }
}

/// A checkpoint file that cannot be used, naming the file and what is wrong with it.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Reason: String, Sendable, Codable {
        case io, truncated, unknownFormat, badMagic, obsoleteVersion, unsupportedVersion, badConfig,
             sizeMismatch, nonFinite, badSafetensors, badTensors, untiedOutputLayer, badHFConfig
    }

    public var path: String
    public var reason: Reason
    public var message: String
    public var description: String { "\(path): \(message)" }

    public init(path: String, reason: Reason, message: String) {
        self.path = path
        self.reason = reason
        self.message = message
    }
}

/// A checkpoint and how it was stored, for `CheckpointInfo`.
struct LoadedCheckpoint {
    var checkpoint: Checkpoint
    /// e.g. "llm.c model v3", "safetensors (Hugging Face GPT-2)".
    var format: String
    /// The files read and their total size.
    var files: [String]
    var fileBytes: Int
    /// Checks passed while reading, in order, as (name, detail).
    var checks: [(String, String)]
}

extension Checkpoint {
    /// Reads any supported format; `validateValues: false` lets `CheckpointInfo` report NaNs as a
    /// failed check instead of an error.
    static func load(path: String, validateValues: Bool) throws -> LoadedCheckpoint {
        if ReadableFile.isDirectory(path) { return try HFGPT2.read(path: path, validateValues: validateValues) }
        let file = try ReadableFile(path: path)
        let head = try file.bytes(min(file.size, 16), at: 0)
        var magicText = ""
        if head.count >= 4 {
            let magic = head.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
            if magic == LlmcCheckpoint.magic {
                return try LlmcCheckpoint.read(file, validateValues: validateValues)
            }
            if let other = LlmcCheckpoint.otherMagics[magic] {
                throw CheckpointError(path: path, reason: .badMagic, message: "this is \(other), not a GPT-2 model file")
            }
            magicText = " (its first int32 is \(magic))"
        }
        if Safetensors.looksLikeSafetensors(head) {
            return try HFGPT2.read(path: path, validateValues: validateValues)
        }
        throw CheckpointError(path: path, reason: .unknownFormat,
                              message: "neither an llm.c model file (magic \(LlmcCheckpoint.magic))\(magicText) nor safetensors")
    }
}
