import Foundation
import Testing
import TestSupport

/// Every parallel stage on one and on three threads, on the same small corpus: the bytes must be
/// the same, and the run clean. `make test-asan` runs this suite with the sanitized `prep` and
/// `tune` (a sanitizer report makes the child exit non-zero and is shown here), so it is kept small
/// enough for ThreadSanitizer's slowdown.
@Suite struct ParallelStageTests {
    @Test func threadCountDoesNotChangeTheBytes() throws {
        let dir = Fixtures.tempDir("parallel")
        let text = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/en-docs.jsonl.zst"]).stdout
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        for k in 0..<3 {
            let part = lines.enumerated().filter { $0.offset % 96 == k }.map { String($0.element) }.joined(separator: "\n")
            Fixtures.write(part + "\n", to: dir + "/in/part\(k).jsonl")
        }
        func stage(_ name: String, _ args: [String], tool: String = "prep", compare: Bool = true) throws {
            for threads in ["1", "3"] {
                let r = try Fixtures.run(Fixtures.binDir + "/" + tool, args + ["--out", "\(dir)/\(name)-\(threads)", "--threads", threads])
                #expect(r.status == 0 && !r.stderr.contains("Sanitizer"), "\(name) on \(threads) threads: \(r.status)\n\(r.stderr.suffix(4000))")
            }
            if compare {
                #expect(outputFiles("\(dir)/\(name)-1") == outputFiles("\(dir)/\(name)-3"), "\(name): the bytes depend on the threads")
            }
        }
        try stage("docs", ["ingest", dir + "/in", "--shard-size", "256KB", "--quiet"])
        try stage("clean", ["clean", dir + "/docs-1", "--shard-size", "256KB", "--quiet"])
        try stage("dedup", ["dedup", dir + "/clean-1", "--shard-size", "256KB", "--quiet"])
        try stage("tok", ["train-tokenizer", dir + "/dedup-1", "--vocab-size", "512", "--quiet"])
        try stage("tokens", ["tokenize", dir + "/dedup-1", "--tokenizer", dir + "/tok-1", "--shard-tokens", "50000",
                             "--val-fraction", "0.1", "--quiet"])
        // Each stage hashes its inputs as it reads them (no second read): the manifests' digests
        // must be the files' own.
        for name in ["clean-3", "dedup-3", "tok-3", "tokens-3"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(name)/manifest.json"))
            let inputs = try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["inputs"] as? [[String: Any]])
            #expect(!inputs.isEmpty)
            for input in inputs {
                let path = try #require(input["path"] as? String)
                let sum = String(try Fixtures.run("sha256sum", [path]).stdout.prefix(64))
                #expect(input["sha256"] as? String == sum, "\(name): \(path)")
            }
        }
        let base = dir + "/base.bin"
        #expect(try Fixtures.tune(["init", "--layers", "2", "--channels", "32", "--heads", "2", "--max-seq", "64",
                                   "--tokenizer", dir + "/tok-1", "--out", base]).status == 0)
        // tune run's row-parallel kernels (Kernels/Parallel.swift) add per-chunk partial sums, so
        // its weights may differ in the last bits between thread counts: only a clean run is
        // checked here (the kill test checks that a run is reproducible on its own thread count).
        try stage("run", ["run", "--base", base, "--data", dir + "/tokens-1", "--steps", "4", "--batch-size", "2",
                          "--seq-len", "64", "--eval-every", "0", "--quiet"], tool: "tune", compare: false)
    }
}
