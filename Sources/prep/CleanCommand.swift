import ArgumentParser
import DataPrep
import ShardFormat
import Foundation

struct CleanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Normalise documents and drop low-quality ones, saying why.",
        discussion: """
            Reads document shards (the output of `prep ingest`, or any folder of
            docs-*.jsonl[.zst|.gz]) and writes the kept documents as shards of the
            same kind. The steps, in order, each configurable in --config:
              normalize           Unicode NFC (or NFKC), control and zero-width
                                  characters, spaces, trailing spaces, blank lines
              language            zh / en / other into metadata.lang; --lang keeps
                                  only the languages named
              pii                 e-mail, IP and phone numbers become placeholders
              c4                  C4 line filters (boilerplate, no terminal
                                  punctuation, javascript, policy lines), lorem
                                  ipsum, curly brackets, too few sentences
              gopher_repetition   duplicated lines, paragraphs and n-grams
              gopher_quality      word counts, word length, symbols, bullets,
                                  ellipses, alphabetic words, stop words
            Han text has no spaces: its words are counted per character, and the
            stop words have a Chinese side.

            Every dropped document has a reason (gopher_quality:..., c4:...,
            lang:..., empty); the manifest counts documents and bytes per reason,
            and --rejected DIR keeps the dropped documents with
            metadata.drop_reason, for audit.

            EXAMPLES
              prep clean out/docs --out out/clean
              prep clean out/docs --out out/clean --lang zh,en --rejected out/rejected
              prep clean out/docs --out out/clean --config clean.yaml --pii
              prep clean --print-config > clean.yaml     # every option and default

            \(ExitStatus.helpText)
            """)

    @Argument(help: "Shard files or folders of shards.")
    var inputs: [String] = []

    @Option(name: .long, help: "Output folder.")
    var out: String?

    @Option(help: "YAML file of options (see --print-config); flags override it.")
    var config: String?

    @Option(help: "Folder for the dropped documents, with their reason.")
    var rejected: String?

    @Option(help: "Keep only these languages, comma-separated: zh, en, other.")
    var lang: String?

    @Flag(help: "Mask e-mail addresses, IP addresses and phone numbers.")
    var pii = false

    @Option(help: "Unicode normal form: nfc, nfkc or none (default: \(NormalizeOptions().unicode.rawValue)).")
    var unicode: NormalizeOptions.Form?

    @Option(help: "Uncompressed bytes per output shard, e.g. 256MB (default: \(ByteSize.format(CleanOptions.defaults.shardSize))).")
    var shardSize: ByteSize?

    @Flag(help: "Print the resolved options as YAML and exit.")
    var printConfig = false

    @Flag(help: "Redo the work even if a complete manifest says it is done.")
    var force = false

    @OptionGroup var run: RunOptions

    func validate() throws {
        if !printConfig {
            if inputs.isEmpty { throw ValidationError("give at least one INPUT (shards or a folder of shards)") }
            if out == nil { throw ValidationError("--out is required") }
        }
        try run.validate()
    }

    func resolvedOptions() throws -> CleanOptions {
        var o = CleanOptions()
        if let config {
            do {
                o = try CleanOptions.fromYAML(String(contentsOfFile: config, encoding: .utf8))
            } catch {
                throw ValidationError("\(config): \(error)")
            }
        }
        if let lang { o.language.keep = lang.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        if pii { o.pii.enabled = true }
        if let unicode { o.normalize.unicode = unicode }
        if let shardSize { o.shardSize = shardSize.bytes }
        return o
    }

    mutating func run() async throws {
        let options = try resolvedOptions()
        if printConfig {
            print(try ConfigFile.yaml(options), terminator: "")
            return
        }
        guard let out else { return }
        let layout = run.layout()
        let all: [IngestInput]
        do { all = try Shards.inputs(inputs) } catch { throw ValidationError("\(error)") }
        guard !all.isEmpty else { throw ValidationError("no shards found in \(inputs.joined(separator: " "))") }
        let mine = Ingest.split(all, taskIndex: layout.taskIndex, taskCount: layout.taskCount)

        let console = Console(quiet: run.quiet, json: run.json, label: "clean")
        let progress = IngestProgress()
        let result = try console.runStage(progress, itemName: "kept") {
            try Clean.run(inputs: mine, outDir: out, rejectedDir: rejected, options: options, layout: layout,
                          force: force, progress: progress)
        }
        let m = result.manifest
        let status: ExitStatus = m.counts.invalidRecords > 0 ? .inputErrors : .ok
        try console.finish(m, manifestPath: result.manifestPath, upToDate: result.upToDate, status: status) {
            [Self.summary(m, manifestPath: result.manifestPath)]
        }
    }

    static func summary(_ m: CleanManifest, manifestPath: String) -> String {
        let c = m.counts
        var lines = [String(format: "kept %d of %d documents (%.1f of %.1f MB) in %.1fs (%.1f MB/s)",
                            c.kept.documents, c.documentsIn, Double(c.kept.bytes) / 1e6, Double(c.bytesIn) / 1e6,
                            m.timings.seconds, m.timings.textMegabytesPerSecond)]
        for (reason, t) in c.dropped.sorted(by: { ($0.value.documents, $1.key) > ($1.value.documents, $0.key) }) {
            lines.append(String(format: "  dropped %6d  %@", t.documents, reason))
        }
        if !c.languages.isEmpty {
            lines.append("languages: " + c.languages.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !c.pii.isEmpty {
            lines.append("masked: " + c.pii.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if c.invalidRecords > 0 { lines.append("lines that were not document records: \(c.invalidRecords)") }
        lines.append("manifest: \(manifestPath)")
        return lines.joined(separator: "\n")
    }
}

extension NormalizeOptions.Form: ExpressibleByArgument {}
