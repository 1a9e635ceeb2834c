import ArgumentParser
import FineTuning
import Foundation
import GPTModel
import Kernels

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Describe a checkpoint: shape, parameter count, weight type, file checks; and the BLAS in use.",
        discussion: """
            Reads an llm.c model file (version 3 fp32 or 5 bf16) or an HF GPT-2 checkpoint
            (a folder with model.safetensors and config.json, or the .safetensors file),
            checks it (header, size, finite weights, zero pad rows) and prints per-tensor
            statistics. Also prints which OpenBLAS kernels (core type) this machine uses
            for the matrix products, and why.

            EXAMPLES
              tune info out/base.bin
              tune info ~/models/gpt2 --json
              tune info --blas-only

            \(ExitStatus.helpText)
            """)

    @Argument(help: "A checkpoint: an llm.c .bin file, or an HF folder / .safetensors file.")
    var checkpoint: String?

    @Flag(help: "Print only the BLAS library and core type.") var blasOnly = false
    @Flag(help: "Print the result as JSON on standard output.") var json = false

    func validate() throws {
        if checkpoint == nil && !blasOnly { throw ValidationError("give a CHECKPOINT (or --blas-only)") }
    }

    mutating func run() async throws {
        let output = Output(label: "info", quiet: json)
        let blas: BLASInfo?
        let blasProblem: String?
        do { blas = try BLAS.load(); blasProblem = nil } catch { blas = nil; blasProblem = "\(error)" }
        var info: CheckpointInfo? = nil
        if let checkpoint, !blasOnly {
            do { info = try CheckpointInfo.inspect(path: resolveCheckpoint(checkpoint)) } catch { throw output.fail(error) }
        }
        let card = checkpoint.flatMap { ModelCard.read(for: resolveCheckpoint($0)) }
        if json {
            struct Result: Encodable { var checkpoint: CheckpointInfo?; var card: ModelCard?; var blas: BLASInfo?; var blasError: String? }
            try output.json(Result(checkpoint: info, card: card, blas: blas, blasError: blasProblem))
        } else {
            if let i = info {
                print("\(i.path): \(i.format)")
                print("  shape      \(i.config.description) (head size \(i.config.headSize))")
                print(String(format: "  parameters %d (%.1fM; %.1fM without the vocabulary padding)", i.parameterCount,
                             Double(i.parameterCount) / 1e6, Double(i.unpaddedParameterCount) / 1e6))
                print("  file       \(i.fileBytes) bytes: \(i.files.joined(separator: ", "))")
                if let card {
                    print("  tokenizer  " + (card.tokenizerFingerprint.map { "fingerprint \($0.prefix(16))…" } ?? "unknown")
                          + ", vocabulary \(card.vocabularySize); made by \(card.madeBy)")
                } else {
                    print("  tokenizer  unknown (no \(ModelCard.path(for: i.path)) beside it: only the vocabulary size can be checked)")
                }
                for c in i.checks { print("  \(c.passed ? "ok  " : "FAIL") \(c.name): \(c.detail)") }
                func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(1, n - s.count)) }
                print("  " + pad("tensor", 10) + pad("shape", 18) + "       min        max    mean|w|        std")
                for t in i.tensors {
                    print("  " + pad(t.name, 10) + pad(t.shape.map(String.init).joined(separator: "×"), 18)
                          + String(format: "%10.4f %10.4f %10.5f %10.5f", t.min ?? .nan, t.max ?? .nan, t.meanAbs, t.std))
                }
            }
            if let b = blas {
                print("BLAS: \(b.libraryPath), core \(b.coreName) (\(b.requestedCoreType.map { "asked for \($0), " } ?? "")\(b.coreTypeSource.rawValue)), \(b.threads) threads")
            } else {
                print("BLAS: not available: \(blasProblem ?? "")")
            }
        }
        if let i = info, !i.ok { throw ExitCode(ExitStatus.failure.rawValue) }
    }
}
