// Pipeline files (prep run) through Pipeline.parse, with a fixed catalog of commands and options
// (the one prep builds comes from the commands' --experimental-dump-help). Every failure must be
// a PipelineError naming the file; a pipeline that loads must have stages whose inputs refer
// only to earlier stages.
import DataPrep
import FuzzSupport

let catalog = CommandCatalog(commands: [
    "prep ingest": .init(options: ["out": false, "compression": false, "threads": false, "max-document-size": false,
                                   "strict": true, "force": true, "help": true, "json": true], takesInputs: true),
    "prep clean": .init(options: ["out": false, "rejected": false, "lang": false, "pii": true, "config": false],
                        takesInputs: true),
    "prep train-tokenizer": .init(options: ["out": false, "vocab-size": false, "special": false], takesInputs: true),
    "tune init": .init(options: ["out": false, "layers": false, "channels": false, "heads": false, "tokenizer": false],
                       takesInputs: false),
    "tune run": .init(options: ["out": false, "init": false, "train": false, "steps": false, "resume": true],
                      takesInputs: false),
])

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
