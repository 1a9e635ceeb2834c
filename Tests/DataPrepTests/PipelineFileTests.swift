import DataPrep
import Foundation
import Testing

/// Pipeline files read through `Pipeline.parse` (what `Pipeline.load` and the pipeline-yaml fuzz
/// target call), with a small catalog instead of the one `prep run` reads from its commands.
@Suite struct PipelineFileTests {
    static let catalog = CommandCatalog(commands: [
        "prep ingest": .init(options: ["out": false, "compression": false, "strict": true], takesInputs: true),
        "tune init": .init(options: ["out": false, "layers": false], takesInputs: false),
    ])

    static func parse(_ yaml: String) throws -> Pipeline {
        try Pipeline.parse(yaml: yaml, path: "/work/p.yaml", catalog: catalog)
    }

    @Test func variablesExpandInOtherVariablesAndStages() throws {
        let p = try Self.parse("""
            vars: {a: "x", b: "${a}/${a}", c: "${b}-${b}"}
            stages:
              - {name: s, run: prep ingest, inputs: ["${c}"], out: "${pipeline_dir}/${a}"}
            """)
        #expect(p.stages[0].inputs == ["x/x-x/x"])
        #expect(p.stages[0].out == "/work/x")
    }

    /// Found by the pipeline-yaml fuzz target's review and reproduced under it (libFuzzer:
    /// out-of-memory, malloc of 2 GB): a value that refers to itself grew with every expansion
    /// round, to 2^48 copies for eight references. Now an error naming the file and the line, found
    /// with bounded memory and time.
    @Test(arguments: [
        ("vars:\n  a: \"${a}${a}${a}${a}${a}${a}${a}${a}\"\nstages:\n  - {name: x, run: tune init, out: y}\n", 2),
        ("vars:\n  a: \"${b}${b}${b}${b}\"\n  b: \"${a}${a}${a}${a}\"\nstages:\n  - {name: x, run: tune init, out: y}\n", nil),
        // Each value fits; the stage's out, two copies of `a`, does not.
        ("vars:\n  b: \"\(String(repeating: "x", count: 8000))\"\n  a: \"${b}${b}${b}${b}${b}${b}${b}${b}\"\n"
         + "stages:\n  - name: x\n    run: tune init\n    out: \"${a}${a}\"\n", 7),
    ] as [(String, Int?)])
    func selfReferenceIsRefused(yaml: String, line: Int?) throws {
        let start = Date()
        do {
            _ = try Self.parse(yaml)
            Issue.record("a self-referring variable was accepted")
        } catch let e as PipelineError {
            #expect(e.file == "/work/p.yaml")
            #expect(e.message.contains("expands to more than 65536 bytes"), "\(e)")
            if let line { #expect(e.line == line, "\(e)") } else { #expect(e.line != nil, "\(e)") }
        }
        #expect(Date().timeIntervalSince(start) < 5)
    }
}
