// Kiln's threaded code on one thread and on several, through the library as prep and tune call
// it, on the repository's samples and fuzz seeds: each stage's output must be the same bytes
// whatever its threads. Built with a sanitizer (scripts/sanitize.sh, `make test-sanitize`), so
// that a data race (ThreadSanitizer) or a bad access (AddressSanitizer) in that code stops the run
// with a report.
//
//   parallel-stages REPOSITORY WORK [THREADS]    REPOSITORY: Kiln's root; THREADS: more than 1 (3)
//
// What runs threaded: ingest's ordered workers, their spill files and the shard writer thread
// (StageRunner's OrderedWorkers and OrderedOutput); clean's and dedup's workers; train-tokenizer's
// counting threads; tokenize's tokenizer loading and OrderedPipeline, on documents and on SFT
// records; the error path of both runners (a shard cut short among good ones); a progress reader
// polling every stage, as prep's progress bar does; the parameter initialisation's concurrent
// slices and one GPT forward and backward pass on the row-parallel kernels (Kernels/Parallel.swift,
// Matmul's bias and column sums).
//
// Every stage runs with `force`: a rerun into the same WORK runs them all again.
//
// Exit status: 0 every check passed, 1 some did not, 2 usage. A sanitizer's report ends the
// process itself (ThreadSanitizer with halt_on_error=1: status 66).

import DataPrep
import Dispatch
import Foundation
import GPTModel
import Kernels
import Tokenization

@main
enum ParallelStages {
    static func main() {
        let args = CommandLine.arguments
        guard (3...4).contains(args.count), let threads = args.count == 4 ? Int(args[3]) : 3, threads > 1 else {
            FileHandle.standardError.write(Data("usage: parallel-stages REPOSITORY WORK [THREADS, more than 1]\n".utf8))
            exit(2)
        }
        let run = Checks(repository: args[1], work: args[2], threads: threads)
        run.all()
        print("\(run.failed == 0 ? "all passed" : "\(run.failed) failed") on 1 and \(threads) threads")
        exit(run.failed == 0 ? 0 : 1)
    }
}

/// The checks, each a stage run twice (one thread, then `threads`) into WORK/NAME-1 and
/// WORK/NAME-N, whose files must be equal.
final class Checks {
    let repository: String
    let work: String
    let threads: Int
    private(set) var failed = 0

    init(repository: String, work: String, threads: Int) {
        self.repository = repository
        self.work = work
        self.threads = threads
    }

    /// Small shards, so that every stage rotates its writers several times on the samples.
    static let shardSize: Int64 = 256 << 10

    func all() {
        let samples = repository + "/samples"
        sameBytes("ingest") { out, t in
            var o = IngestOptions()
            o.shardSize = Self.shardSize
            // A tiny spill threshold: the workers ahead of the first unfinished input spill to disk.
            _ = try watched {
                try Ingest.run(inputs: Ingest.enumerateInputs([samples + "/raw"]), outDir: out, options: o,
                               layout: RunLayout(threads: t), force: true, progress: $0, bufferLimit: 16 << 10)
            }
        }
        // The fuzz seeds of the input formats: many small inputs, some damaged, so many job ends
        // (where one worker's result meets another's) and per-input errors inside the workers.
        sameBytes("ingest-seeds") { out, t in
            let seeds = ["archive", "gzip", "zstd", "warc", "html", "jsonl"].map { repository + "/Fuzz/corpus/" + $0 }
            _ = try watched {
                try Ingest.run(inputs: Ingest.enumerateInputs(seeds), outDir: out, options: IngestOptions(),
                               layout: RunLayout(threads: t), force: true, progress: $0)
            }
        }
        sameBytes("clean") { out, t in
            var o = CleanOptions()
            o.shardSize = Self.shardSize
            _ = try watched {
                try Clean.run(inputs: Shards.inputs([first("ingest")]), outDir: out + "/kept", rejectedDir: out + "/rejected",
                              options: o, layout: RunLayout(threads: t), force: true, progress: $0)
            }
        }
        sameBytes("dedup") { out, t in
            var o = DedupOptions()
            o.shardSize = Self.shardSize
            _ = try watched {
                try Dedup.run(inputs: Shards.inputs([first("clean") + "/kept"]), outDir: out + "/kept",
                              removedDir: out + "/removed", options: o, layout: RunLayout(threads: t), force: true,
                              progress: $0)
            }
        }
        sameBytes("train-tokenizer") { out, t in
            var o = TrainTokenizerOptions()
            o.trainer.vocabSize = 512
            _ = try watched {
                try TrainTokenizer.run(inputs: Shards.inputs([first("dedup") + "/kept"]), outDir: out, options: o,
                                       threads: t, force: true, progress: $0)
            }
        }
        sameBytes("tokenize") { out, t in
            var o = TokenizeOptions()
            o.shardTokens = 50_000
            o.valFraction = 0.1
            try tokenize([first("dedup") + "/kept"], out: out, options: o, threads: t)
        }
        sameBytes("tokenize-sft") { out, t in
            var o = TokenizeOptions()
            o.format = .promptCompletion
            o.maxTokens = 128
            o.valFraction = 0.1
            try tokenize([samples + "/tasks/sentiment-zh/train.jsonl"], out: out, options: o, threads: t)
        }
        check("cut-shard") { try cutShard() }
        check("gpt-step") { try gptStep() }
    }

    // MARK: The checks

    /// Runs `stage` on one thread and on `threads` and compares what each wrote.
    private func sameBytes(_ name: String, _ stage: (_ out: String, _ threads: Int) throws -> Void) {
        check(name) {
            let one = first(name), many = "\(work)/\(name)-\(threads)"
            try stage(one, 1)
            try stage(many, threads)
            let a = try Self.outputFiles(one), b = try Self.outputFiles(many)
            if a.isEmpty { return "nothing was written" }
            if a.keys.sorted() != b.keys.sorted() {
                return "different files: \(a.keys.sorted()) and \(b.keys.sorted())"
            }
            let differing = a.keys.sorted().filter { a[$0] != b[$0] }
            return differing.isEmpty ? nil : "the bytes depend on the threads: \(differing.joined(separator: ", "))"
        }
    }

    /// A shard cut short among good ones: clean and tokenize on `threads` threads stop with an
    /// error that names it (each runner's failure path: the other workers stop, the writers are
    /// abandoned) instead of hanging or writing a manifest.
    private func cutShard() throws -> String? {
        let dir = work + "/cut-shards"
        let shards = try Shards.list([first("ingest")])
        guard shards.count >= 3 else { return "ingest wrote \(shards.count) shards, the check needs 3" }
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for s in shards { try FileManager.default.copyItem(atPath: s, toPath: dir + "/" + (s as NSString).lastPathComponent) }
        let victim = dir + "/" + (shards[shards.count / 2] as NSString).lastPathComponent
        let bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: victim))

        var problems: [String] = []
        func expectFailure(_ stage: String, _ body: () throws -> Void) {
            do {
                try body()
                problems.append("\(stage) read the cut shard without an error")
            } catch {
                if !"\(error)".contains((victim as NSString).lastPathComponent) {
                    problems.append("\(stage)'s error does not name the cut shard: \(error)")
                }
            }
        }
        expectFailure("clean") {
            _ = try Clean.run(inputs: Shards.inputs([dir]), outDir: work + "/cut-clean", rejectedDir: nil,
                              options: CleanOptions(), layout: RunLayout(threads: threads), force: true)
        }
        expectFailure("tokenize") {
            try tokenize([dir], out: work + "/cut-tokens", options: TokenizeOptions(), threads: threads)
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// One forward and backward pass of a small GPT on one thread and on `threads` (OpenBLAS on
    /// as many): the row-parallel kernels add per-chunk partial sums, so the two agree to
    /// rounding, not to the bit.
    private func gptStep() throws -> String? {
        let config = GPTConfig(maxSeqLen: 64, vocabSize: 512, numLayers: 2, numHeads: 4, channels: 128)
        let start = Checkpoint.random(config: config, seed: 7)   // fills slices on concurrent threads
        let B = 16, T = 64
        var rng = SplitMix64(state: 11)
        let tokens = (0...(B * T)).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let batch = TokenBatch(B: B, T: T, inputs: Array(tokens[0..<(B * T)]), targets: Array(tokens[1...]))
        // OpenBLAS on one thread, and a batch large enough that a chunk takes a while: a race
        // shows only when chunks overlap in time. OpenBLAS is not instrumented (its threads show a
        // sanitizer nothing), and with its threads spinning on two cores after each product, or
        // with smaller batches, the chunks often ran one after another on the calling thread and
        // a race planted in Matmul.columnSums went unreported (docs/RELIABILITY.md, "Sanitizers").
        BLAS.threads = 1
        func step(_ t: Int) -> (loss: Double, gradients: [Float]) {
            let model = GPT(config: config, parameters: start.parameters, threads: t)
            let (sum, weight) = model.forward(batch)
            model.backward(lossScale: Float(1 / weight))
            return (sum / weight, Array(model.gradients))
        }
        let one = step(1), many = step(threads)
        let scale = one.gradients.reduce(0) { max($0, abs($1)) }
        let worst = zip(one.gradients, many.gradients).reduce(0) { max($0, abs($1.0 - $1.1)) }
        if !one.loss.isFinite || abs(one.loss - many.loss) > 1e-5 * abs(one.loss) {
            return "loss \(one.loss) on 1 thread, \(many.loss) on \(threads)"
        }
        if !(worst <= 1e-4 * scale) { return "gradients differ by \(worst) (largest \(scale))" }
        return nil
    }

    // MARK: Helpers

    private func check(_ name: String, _ body: () throws -> String?) {
        let started = Date()
        let problem: String?
        do { problem = try body() } catch { problem = "\(error)" }
        let seconds = String(format: "%6.1f", Date().timeIntervalSince(started))
        // Unbuffered, so that each line is out before a sanitizer's report ends the process.
        let line = name.padding(toLength: 16, withPad: " ", startingAt: 0) + seconds + "s  " + (problem.map { "FAILED: " + $0 } ?? "ok")
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
        if problem != nil { failed += 1 }
    }

    /// The one-thread output of a stage, which the next stage reads.
    private func first(_ name: String) -> String { "\(work)/\(name)-1" }

    private func tokenize(_ inputs: [String], out: String, options: TokenizeOptions, threads: Int) throws {
        let tokenizerDirectory = first("train-tokenizer")
        // As prep loads it: on several threads, the Unicode tables and the fingerprint are made on
        // threads of their own.
        let tokenizer = try Tokenize.loadTokenizer(directory: tokenizerDirectory, threads: threads)
        _ = try watched {
            try Tokenize.run(inputs: Shards.inputs(inputs), tokenizer: tokenizer, tokenizerDirectory: tokenizerDirectory,
                             outDir: out, options: options, layout: RunLayout(threads: threads),
                             command: ["parallel-stages"], force: true, progress: $0)
        }
    }

    /// Runs `body` while another thread reads its progress, as prep's progress bar does.
    private func watched<T>(_ body: (IngestProgress) throws -> T) throws -> T {
        let progress = IngestProgress()
        let stop = DispatchSemaphore(value: 0), stopped = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            while stop.wait(timeout: .now() + .milliseconds(5)) == .timedOut { _ = progress.snapshot() }
            stopped.signal()
        }
        defer {
            stop.signal()
            stopped.wait()
        }
        return try body(progress)
    }

    /// Every file under `dir` by its relative path, manifests aside (they record the threads and
    /// the times).
    static func outputFiles(_ dir: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for path in try FileManager.default.subpathsOfDirectory(atPath: dir) {
            let name = (path as NSString).lastPathComponent
            var isDirectory: ObjCBool = false
            guard !name.hasPrefix("manifest"), FileManager.default.fileExists(atPath: dir + "/" + path, isDirectory: &isDirectory),
                  !isDirectory.boolValue else { continue }
            files[path] = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + path))
        }
        return files
    }
}
