import ArgumentParser

/// `tune`: fine-tuning of GPT-style checkpoints. The engine and its commands (init, info, run,
/// eval, generate, export) arrive with their issues; for now the command documents the plan.
@main
struct Tune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Kiln fine-tuning: train and evaluate GPT-2-style models on token shards.",
        discussion: """
            Not implemented yet. Planned commands:
              tune init      write a GPT-2-style random initialisation
              tune info      describe a checkpoint (llm.c .bin or HF safetensors)
              tune run       supervised fine-tuning and continued pretraining
              tune eval      loss, perplexity and task accuracy
              tune generate  sample text with a KV cache
              tune export    HF safetensors or llm.c bf16

            EXIT STATUS
              0  help was printed
              2  usage error
            """,
        version: "kiln 0.1.0")

    mutating func run() async throws {
        print(Tune.helpMessage())
    }
}
