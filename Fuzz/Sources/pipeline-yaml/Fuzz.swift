// Pipeline files (prep run) through Pipeline.parse, with a fixed catalog of commands and options
// (the one prep builds comes from the commands' --experimental-dump-help). Every failure must be
// a PipelineError naming the file; a pipeline that loads must have stages whose inputs refer
// only to earlier stages.
import DataPrep
import FuzzSupport

/// The commands of pipelines/*.yaml with the options they use, and a flag or two.
let catalog: CommandCatalog = {
    func command(_ options: [String], flags: [String] = [], inputs: Bool = true) -> CommandCatalog.Command {
        var all: [String: Bool] = ["out": false, "help": true, "json": true, "force": true]
        for o in options { all[o] = false }
        for f in flags { all[f] = true }
        return .init(options: all, takesInputs: inputs)
    }
    return CommandCatalog(commands: [
        "prep ingest": command(["compression", "max-document-size", "threads"], flags: ["strict"]),
        "prep clean": command(["rejected", "lang", "config"], flags: ["pii"]),
        "prep dedup": command(["removed", "mem-budget"]),
        "prep train-tokenizer": command(["vocab-size", "special", "pattern"]),
        "prep tokenize": command(["format", "max-tokens", "tokenizer", "val-fraction"]),
        "tune init": command(["channels", "heads", "layers", "max-seq", "seed", "tokenizer"], inputs: false),
        "tune run": command(["base", "batch-size", "data", "eval-every", "lr", "save-every", "seq-len", "steps", "threads",
                             "warmup-steps", "weight-decay"], flags: ["resume"], inputs: false),
        "tune eval": command(["data", "tasks", "threads", "tokenizer"]),
        "tune generate": command(["max-tokens", "prompt", "temperature", "tokenizer"]),
        "tune export": command(["to", "tokenizer"]),
    ])
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let text = String(decoding: input(data, size), as: UTF8.self)
    do {
        let p = try Pipeline.parse(yaml: text, path: "/fuzz/pipelines/fuzz.yaml", set: [:], catalog: catalog)
        var seen = Set<String>()
        for s in p.stages {
            precondition(s.dependsOn.allSatisfy(seen.contains), "stage \(s.name) depends on a later stage")
            seen.insert(s.name)
            _ = p.arguments(s, catalog: catalog)
        }
    } catch is PipelineError {
    } catch {
        fatalError("Pipeline.parse threw \(error)")
    }
    return 0
}
