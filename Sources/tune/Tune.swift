import ArgumentParser
import Foundation
import ShardFormat

/// Exit statuses of every `tune` command; a build farm reads them.
enum ExitStatus: Int32 {
    case ok = 0
    /// The command could not do its work (a bad file, an I/O error); the message says why.
    case failure = 1
    /// The command line or the configuration is wrong.
    case usage = 2
    /// Training stopped on a loss that is not finite; the last good checkpoint is kept.
    case diverged = 4
    /// SIGTERM, SIGINT or SIGUSR1 arrived: a checkpoint was written; rerun with --resume
    /// (sysexits' EX_TEMPFAIL, for job scripts that requeue themselves).
    case requeue = 75

    static let helpText = """
        EXIT STATUS
          0   done
          1   failure: a bad or missing file, an I/O error (the message names it)
          2   usage error: bad option, bad configuration file
          4   (tune run) the loss stopped being finite; the last good checkpoint is kept
          75  (tune run) interrupted by SIGTERM, SIGINT or SIGUSR1 after writing a
              checkpoint: rerun with --resume (a Slurm job script can requeue on 75)
        """
}

struct Tune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Kiln fine-tuning: train and evaluate GPT-2-style models on token shards.",
        discussion: """
            Commands:
              tune init      write a GPT-2-style random initialisation (llm.c format)
              tune info      describe a checkpoint (llm.c .bin or HF safetensors) and the BLAS in use
              tune run       supervised fine-tuning and continued pretraining on token shards
              tune eval      loss and perplexity on shards; accuracy on downstream tasks
              tune generate  sample text with the KV cache, printed as it arrives
              tune export    HF safetensors (transformers) or llm.c's bf16 file
              tune bench     training-step speed beside the sgemm ceiling

            Every command takes --help (with examples) and --json.
            """,
        version: "kiln 0.1.0",
        subcommands: [InitCommand.self, InfoCommand.self, RunCommand.self, EvalCommand.self, GenerateCommand.self,
                      ExportCommand.self, BenchCommand.self])
}

@main
enum TuneMain {
    static func main() async {
        // A stage of `prep run` stops when `prep run` dies, even of SIGKILL.
        ParentDeath.followPrepRun()
        do {
            var command = try Tune.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // ArgumentParser reports usage errors as 64 (EX_USAGE); Kiln documents 2.
            if Tune.exitCode(for: error).rawValue == 64 {
                FileHandle.standardError.write(Data((Tune.fullMessage(for: error) + "\n").utf8))
                exit(ExitStatus.usage.rawValue)
            }
            Tune.exit(withError: error)
        }
    }
}

/// Messages on standard error, `tune <command>: …`; JSON on standard output.
struct Output {
    let label: String
    let quiet: Bool
    /// Warnings are printed even when quiet, unless this is false (ranks other than 0 of an
    /// MPI job, whose warnings rank 0 prints too).
    var warnings = true

    func info(_ s: String) {
        guard !quiet else { return }
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
    func warning(_ s: String) {
        guard warnings else { return }
        FileHandle.standardError.write(Data("tune \(label): warning: \(s)\n".utf8))
    }
    func error(_ s: String) { FileHandle.standardError.write(Data("tune \(label): error: \(s)\n".utf8)) }

    func json<T: Encodable>(_ value: T) throws {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try e.encode(value) + Data("\n".utf8))
    }

    /// Prints `error` and exits with status 1.
    func fail(_ error: Error) -> ExitCode {
        self.error("\(error)")
        return ExitCode(ExitStatus.failure.rawValue)
    }
}
