import ArgumentParser
import DataPrep
import Foundation
import ShardFormat

/// Exit statuses of every `prep` command; a build farm reads them.
enum ExitStatus: Int32 {
    /// Everything that was asked for was done.
    case ok = 0
    /// Nothing usable could be written (output not writable, every input failed, --strict).
    case failure = 1
    /// The command line or the configuration is wrong.
    case usage = 2
    /// Some inputs had errors; the output is valid and the manifest counts the errors.
    case inputErrors = 3

    static let helpText = """
        EXIT STATUS
          0  every input was read
          1  nothing usable could be written (or an input error under --strict)
          2  usage error: bad option, missing input, bad configuration file
          3  some inputs had errors; the output is still valid and the
             manifest counts them
        """
}

struct Prep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prep",
        abstract: "Kiln data preparation: raw text archives to training data.",
        discussion: """
            Stages, each reading the files of the one before:
              prep ingest   raw archives (tar, zip, 7z, gz, zst, WARC/WET, JSONL,
                            text, HTML) to JSONL document shards
              prep clean    normalisation and quality filters, every drop with
                            its reason
              prep dedup    exact and MinHash near-duplicate removal
              prep train-tokenizer   byte-level BPE (GPT-2 style) from shards
              prep tokenize          documents to llm.c token shards
              prep encode / decode   text to token ids and back
              prep inspect           what a Kiln file holds
              prep run PIPELINE.yaml the whole flow (prep and tune stages) as one
                                     resumable batch job

            Every command takes --help (with examples) and --json; each command's
            help lists its exit statuses.
            """,
        version: "kiln \(Kiln.version)",
        subcommands: [IngestCommand.self, CleanCommand.self, DedupCommand.self, TrainTokenizerCommand.self,
                      TokenizeCommand.self, EncodeCommand.self, DecodeCommand.self, InspectCommand.self,
                      RunPipelineCommand.self])
}

@main
enum PrepMain {
    static func main() async {
        // A stage of `prep run` stops when `prep run` dies, even of SIGKILL.
        ParentDeath.followPrepRun()
        do {
            var command = try Prep.parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // ArgumentParser reports usage errors as 64 (EX_USAGE); Kiln documents 2.
            if Prep.exitCode(for: error).rawValue == 64 {
                FileHandle.standardError.write(Data((Prep.fullMessage(for: error) + "\n").utf8))
                exit(ExitStatus.usage.rawValue)
            }
            Prep.exit(withError: error)
        }
    }
}
