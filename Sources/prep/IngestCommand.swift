import ArgumentParser
import DataPrep
import Foundation
import Logging

struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Turn raw archives and files into JSONL document shards.",
        discussion: """
            Each INPUT is a file or a folder (walked recursively, in sorted order;
            hidden files are left out). Formats are recognised from their content:
              archives    tar (plain, gz, bz2, xz, zst), zip, 7z, cpio; an archive
                          inside an archive is read too, two levels deep
              compressed  .gz (several members too), .zst, .xz, .bz2
              web         WARC and WET (.warc, .warc.gz): response records with
                          HTML become text; conversion records are kept as is
              JSONL       records that hold text already (--text-field,
                          --id-field); their other fields become metadata
              text, HTML  one document per file; HTML keeps its visible text
            Text is decoded from UTF-8, UTF-16 (by BOM), GB18030 or Big5; other
            invalid bytes become U+FFFD and are counted. Line endings become \\n.

            OUTPUT
              DIR/docs-<task>-<n>.jsonl.zst, one JSON object per line:
                {"id", "text", "source": {"input", "member", "url", "record"},
                 "metadata": {...}}
              DIR/manifest.json (manifest-<task>.json with --task-count > 1),
              written last. A rerun whose manifest is complete and whose inputs
              and options are unchanged does nothing (--force redoes it); a
              killed run is redone from the start, to the same bytes.

            EXAMPLES
              prep ingest samples/raw --out out/docs
              prep ingest crawl.warc.gz books.tar.xz --out out/docs --compression gz
              prep ingest --inputs-from list.txt --out out/docs \\
                  --task-index 3 --task-count 8
              prep ingest dumps/ --out out/docs --json > summary.json

            \(ExitStatus.helpText)
            """)

    @Argument(help: "Input files and folders.")
    var inputs: [String] = []

    @Option(name: .customLong("inputs-from"), help: "A file listing inputs, one per line.")
    var inputsFrom: String?

    @Option(name: .long, help: "Output folder.")
    var out: String

    @Option(help: "YAML file with any of the options below (snake_case keys); flags override it.")
    var config: String?

    @Option(help: "JSONL input: field holding the text (default: \(IngestOptions.defaults.textField)).")
    var textField: String?

    @Option(help: "JSONL input: field holding the id (default: \(IngestOptions.defaults.idField)).")
    var idField: String?

    @Option(help: "Shard compression: zstd, gz or none (default: \(IngestOptions.defaults.compression.rawValue)).")
    var compression: ShardCompression?

    @Option(help: "Compression level (default: \(IngestOptions.defaults.compressionLevel)).")
    var compressionLevel: Int32?

    @Option(help: "Uncompressed bytes per shard, e.g. 256MB (default: \(ByteSize.format(IngestOptions.defaults.shardSize))).")
    var shardSize: ByteSize?

    @Option(help: "Largest archive member after decompression (default: \(ByteSize.format(IngestOptions.defaults.maxEntrySize))).")
    var maxEntrySize: ByteSize?

    @Option(help: "Largest decompressed/compressed ratio before a stream is stopped (default: \(Int(IngestOptions.defaults.maxRatio))).")
    var maxRatio: Double?

    @Option(help: "Largest document; longer ones are dropped with a reason (default: \(ByteSize.format(IngestOptions.defaults.maxDocumentSize))).")
    var maxDocumentSize: ByteSize?

    @Flag(help: "Make any input error fatal (exit status 1).")
    var strict = false

    @Flag(help: "Redo the work even if a complete manifest says it is done.")
    var force = false

    @OptionGroup var run: RunOptions

    func validate() throws {
        if inputs.isEmpty && inputsFrom == nil {
            throw ValidationError("give at least one INPUT or --inputs-from")
        }
        try run.validate()
    }

    func resolvedOptions() throws -> IngestOptions {
        var o = IngestOptions()
        if let config {
            do {
                o = try IngestOptions.fromYAML(String(contentsOfFile: config, encoding: .utf8))
            } catch {
                throw ValidationError("\(config): \(error)")
            }
        }
        if let textField { o.textField = textField }
        if let idField { o.idField = idField }
        if let compression { o.compression = compression }
        if let compressionLevel { o.compressionLevel = compressionLevel }
        if let shardSize { o.shardSize = shardSize.bytes }
        if let maxEntrySize { o.maxEntrySize = maxEntrySize.bytes }
        if let maxRatio { o.maxRatio = maxRatio }
        if let maxDocumentSize { o.maxDocumentSize = maxDocumentSize.bytes }
        if strict { o.strict = true }
        return o
    }

    mutating func run() async throws {
        let options = try resolvedOptions()
        let layout = run.layout()
        var paths = inputs
        let all: [IngestInput]
        do {
            if let inputsFrom { paths += try Ingest.readInputList(inputsFrom) }
            all = try Ingest.enumerateInputs(paths, excluding: out)
        } catch {
            throw ValidationError("\(error)")
        }
        guard !all.isEmpty else { throw ValidationError("no input files found in \(paths.joined(separator: " "))") }
        let mine = Ingest.split(all, taskIndex: layout.taskIndex, taskCount: layout.taskCount)

        let console = Console(quiet: run.quiet, json: run.json, label: "ingest")
        let progress = IngestProgress()
        let logger = console.logger
        let result = try console.runStage(progress, itemName: "docs") {
            try Ingest.run(inputs: mine, outDir: out, options: options, layout: layout, force: force,
                           progress: progress, onIssue: { issue in logger.warning("\(issue)") })
        }
        let m = result.manifest
        let status: ExitStatus = m.counts.documents == 0 && m.counts.errorCount > 0 && m.inputs.count > 0
            && m.inputs.allSatisfy({ $0.errors > 0 }) ? .failure
            : m.counts.errorCount > 0 ? .inputErrors : .ok
        try console.finish(m, manifestPath: result.manifestPath, upToDate: result.upToDate, status: status) {
            [Self.summary(m, manifestPath: result.manifestPath)]
        }
    }

    static func summary(_ m: IngestManifest, manifestPath: String) -> String {
        let c = m.counts
        var lines = [String(format: "%d documents (%.1f MB of text) from %d inputs into %d shards in %.1fs (%.1f MB/s)",
                            c.documents, Double(c.textBytes) / 1e6, c.inputs, m.outputs.count,
                            m.timings.seconds, m.timings.textMegabytesPerSecond)]
        if !c.skipped.isEmpty {
            lines.append("skipped: " + c.skipped.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !c.encodings.isEmpty {
            lines.append("converted: " + c.encodings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if c.replacedBytes > 0 { lines.append("invalid bytes replaced by U+FFFD: \(c.replacedBytes)") }
        if !c.errors.isEmpty {
            lines.append("errors: " + c.errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        lines.append("manifest: \(manifestPath)")
        return lines.joined(separator: "\n")
    }
}

extension ShardCompression: ExpressibleByArgument {}

/// A byte count on the command line: `1048576`, `64KB`, `256MB`, `1GB` (powers of 1024).
struct ByteSize: ExpressibleByArgument {
    var bytes: Int64

    init?(argument: String) {
        let s = argument.uppercased().replacingOccurrences(of: "IB", with: "B")
        let units: [(String, Int64)] = [("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10),
                                        ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1)]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            guard let v = Double(s.dropLast(suffix.count)), v > 0 else { return nil }
            bytes = Int64(v * Double(scale))
            return
        }
        guard let v = Int64(s), v > 0 else { return nil }
        bytes = v
    }

    static func format(_ n: Int64) -> String {
        for (suffix, scale) in [("GB", Int64(1) << 30), ("MB", Int64(1) << 20), ("KB", Int64(1) << 10)]
        where n >= scale && n % scale == 0 {
            return "\(n / scale)\(suffix)"
        }
        return "\(n)"
    }
}
