import ArgumentParser
import DataPrep
import ShardFormat
import Foundation

struct DedupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dedup",
        abstract: "Remove exact and near-duplicate documents (MinHash LSH), in bounded memory.",
        discussion: """
            Exact duplicates: a 128-bit hash of the text with case, whitespace and
            punctuation folded. Near duplicates: MinHash over word 5-grams (character
            5-grams for Han text), LSH bands x rows, candidate pairs confirmed by
            estimated Jaccard similarity, clusters by union-find. The document kept
            in a cluster is its first in input order, whatever the threads or tasks.
            Band hashes spill to sorted runs on disk past --mem-budget.

            On a build farm the same work runs as three steps, with the same result:
              prep dedup signatures IN... --work W --task-index I --task-count N
              prep dedup cluster --work W
              prep dedup filter IN... --work W --out DIR --task-index I --task-count N
            Tasks take contiguous runs of the sorted shards.

            EXAMPLES
              prep dedup out/clean --out out/dedup
              prep dedup out/clean --out out/dedup --removed out/removed --mem-budget 512MB
              prep dedup --print-config > dedup.yaml

            \(ExitStatus.helpText)
            """,
        subcommands: [DedupRun.self, DedupSignatures.self, DedupCluster_.self, DedupFilter.self],
        defaultSubcommand: DedupRun.self)
}

/// Options of every dedup step: the configuration and the memory budget.
struct DedupConfigOptions: ParsableArguments {
    @Option(help: "YAML file of options (see --print-config); flags override it.")
    var config: String?

    @Option(help: "Memory for band hashes before they spill to disk, e.g. 2GB (default: \(ByteSize.format(DedupOptions.defaults.memoryBudget))).")
    var memBudget: ByteSize?

    @Option(help: "LSH bands (default: \(MinHashOptions.defaults.bands)); bands x rows = permutations.")
    var bands: Int?

    @Option(help: "LSH rows per band (default: \(MinHashOptions.defaults.rows)).")
    var rows: Int?

    @Option(help: "Estimated Jaccard similarity that confirms a candidate pair (default: \(MinHashOptions.defaults.jaccardThreshold)).")
    var threshold: Double?

    @Option(help: "Uncompressed bytes per output shard, e.g. 256MB (default: \(ByteSize.format(DedupOptions.defaults.shardSize))).")
    var shardSize: ByteSize?

    func resolved() throws -> DedupOptions {
        var o = DedupOptions()
        if let config {
            do { o = try DedupOptions.fromYAML(String(contentsOfFile: config, encoding: .utf8)) } catch {
                throw ValidationError("\(config): \(error)")
            }
        }
        if let memBudget { o.memoryBudget = memBudget.bytes }
        if let bands { o.minhash.bands = bands }
        if let rows { o.minhash.rows = rows }
        if let threshold { o.minhash.jaccardThreshold = threshold }
        if let shardSize { o.shardSize = shardSize.bytes }
        do { try o.minhash.validate() } catch { throw ValidationError("\(error)") }
        return o
    }
}

func dedupInputs(_ paths: [String]) throws -> [IngestInput] {
    let all: [IngestInput]
    do { all = try Shards.inputs(paths) } catch { throw ValidationError("\(error)") }
    guard !all.isEmpty else { throw ValidationError("no shards found in \(paths.joined(separator: " "))") }
    return all
}

struct DedupRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "All three steps in one process (the default).")

    @Argument(help: "Shard files or folders of shards.")
    var inputs: [String] = []

    @Option(name: .long, help: "Output folder.")
    var out: String?

    @Option(help: "Folder for the removed documents, with the id of the one kept.")
    var removed: String?

    @Flag(help: "Print the resolved options as YAML and exit.")
    var printConfig = false

    @Flag(help: "Redo the work even if a complete manifest says it is done.")
    var force = false

    @OptionGroup var dedup: DedupConfigOptions
    @OptionGroup var run: RunOptions

    mutating func run() async throws {
        let options = try dedup.resolved()
        if printConfig {
            print(try ConfigFile.yaml(options), terminator: "")
            return
        }
        guard let out, !inputs.isEmpty else { throw ValidationError("give INPUT shards and --out") }
        var layout = run.layout()
        // One process: one task of all the inputs.
        layout.taskIndex = 0
        layout.taskCount = 1
        let all = try dedupInputs(inputs)
        try runDedup(all: all, out: out, removed: removed, options: options, layout: layout, work: nil, force: force,
                     run: run)
    }
}

func runDedup(all: [IngestInput], out: String, removed: String?, options: DedupOptions, layout: RunLayout,
              work: String?, force: Bool, run: RunOptions) throws {
    let console = Console(quiet: run.quiet, json: run.json, label: "dedup")
    if !run.quiet && !run.json {
        console.info(String(format: "MinHash %d×%d (%d permutations, %d-grams): pairs above J ≈ %.2f become candidates; merged at J ≥ %.2f",
                            options.minhash.bands, options.minhash.rows, options.minhash.numPermutations,
                            options.minhash.ngram, options.minhash.impliedThreshold, options.minhash.jaccardThreshold))
    }
    let progress = IngestProgress()
    let result = try console.runStage(progress, itemName: "kept") {
        try Dedup.run(inputs: all, outDir: out, removedDir: removed, options: options, layout: layout,
                      work: work, force: force, progress: progress)
    }
    let m = result.manifest
    try console.finish(m, manifestPath: result.manifestPath, upToDate: result.upToDate, status: .ok) {
        var line = "kept \(m.kept) of \(m.documents) documents; removed "
            + (["exact", "near"].map { "\(m.removed[$0] ?? 0) \($0)" }.joined(separator: ", "))
        if let c = m.clusters { line += "; \(c.clusters) clusters, largest \(c.largestCluster), \(c.candidatePairs) candidate pairs" }
        return [line + String(format: " in %.1fs", m.timings.seconds), "manifest: \(result.manifestPath)"]
    }
}

struct DedupSignatures: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signatures", abstract: "Step 1 (per task): signatures and band hashes into --work.")

    @Argument(help: "Shard files or folders of shards (all tasks give the same list).")
    var inputs: [String] = []

    @Option(help: "Work folder shared by the three steps.")
    var work: String

    @OptionGroup var dedup: DedupConfigOptions
    @OptionGroup var run: RunOptions

    mutating func run() async throws {
        let options = try dedup.resolved()
        let all = try dedupInputs(inputs)
        let console = Console(quiet: run.quiet, json: run.json, label: "dedup signatures")
        do {
            let s = try Dedup.signatures(allInputs: all, work: work, options: options, layout: run.layout())
            if run.json {
                FileHandle.standardOutput.write(try IngestManifest.encoder.encode(s) + Data("\n".utf8))
            } else {
                console.info(String(format: "%d documents from %llu in %.1fs", s.documents, s.baseDocument, s.seconds))
            }
        } catch {
            console.error("\(error)")
            throw ExitCode(ExitStatus.failure.rawValue)
        }
    }
}

struct DedupCluster_: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster", abstract: "Step 2 (once): merge every task's band hashes into the removal list.")

    @Option(help: "Work folder shared by the three steps.")
    var work: String

    @OptionGroup var dedup: DedupConfigOptions
    @OptionGroup var run: RunOptions

    mutating func run() async throws {
        let options = try dedup.resolved()
        let console = Console(quiet: run.quiet, json: run.json, label: "dedup cluster")
        do {
            let s = try Dedup.clusterStep(work: work, options: options)
            if run.json {
                FileHandle.standardOutput.write(try IngestManifest.encoder.encode(s) + Data("\n".utf8))
            } else {
                console.info("\(s.documents) documents: \(s.exactDuplicates) exact and \(s.nearDuplicates) near duplicates in \(s.clusters) clusters")
            }
        } catch {
            console.error("\(error)")
            throw ExitCode(ExitStatus.failure.rawValue)
        }
    }
}

struct DedupFilter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filter", abstract: "Step 3 (per task): copy the task's documents except the removed ones.")

    @Argument(help: "Shard files or folders of shards (the same list as for signatures).")
    var inputs: [String] = []

    @Option(help: "Work folder shared by the three steps.")
    var work: String

    @Option(name: .long, help: "Output folder.")
    var out: String

    @Option(help: "Folder for the removed documents, with the id of the one kept.")
    var removed: String?

    @OptionGroup var dedup: DedupConfigOptions
    @OptionGroup var run: RunOptions

    mutating func run() async throws {
        let options = try dedup.resolved()
        try runDedup(all: try dedupInputs(inputs), out: out, removed: removed, options: options, layout: run.layout(),
                     work: work, force: true, run: run)
    }
}
