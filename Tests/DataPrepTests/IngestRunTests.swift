import ArchiveIO
@testable import DataPrep
import Foundation
import ShardFormat
import Testing
import TestSupport

/// Shard bytes of a folder: name to content.
func shardBytes(_ dir: String) -> [String: [UInt8]] {
    Dictionary(uniqueKeysWithValues: Fixtures.shardFiles(dir).map { (($0 as NSString).lastPathComponent, Fixtures.read($0)) })
}

@Suite struct IngestRunTests {
    @Test func samplesGiveTheDocumentsTheirREADMEPromises() throws {
        let out = Fixtures.tempDir("samples")
        let (m, docs) = try ingest([Fixtures.samples], out: out, layout: RunLayout(threads: 2))
        func count(_ name: String) -> Int { m.inputs.first { $0.path.hasSuffix(name) }?.documents ?? -1 }
        #expect(count("text-docs.tar.gz") == 40)
        #expect(count("pages.zip") == 21)
        #expect(count("crawl.warc.gz") == 11)
        #expect(count("crawl.warc.wet.gz") == 10)
        #expect(count("records.jsonl.zst") == 300)
        #expect(count("web-c4.jsonl.gz") == 100)
        #expect(count("zh-gb18030.txt") == 1)
        #expect(count("zh-big5.txt") == 1)
        #expect(count("truncated.tar.gz") == 5)
        #expect(m.counts.errors == ["truncated": 1])
        // Nothing of a script, a style sheet or a comment reaches the text.
        for marker in ["KILN-STYLE-MARKER", "KILN-SCRIPT-MARKER", "KILN-COMMENT-MARKER"] {
            #expect(!docs.contains { !$0.source.input.hasSuffix("README.md") && $0.text.contains(marker) }, "\(marker) leaked")
        }
        #expect(Set(docs.map(\.id)).count == docs.count)
    }

    @Test func outputBytesDoNotDependOnThreadsOrShardBoundaries() throws {
        var o = IngestOptions()
        o.shardSize = 200_000  // several shards
        let one = Fixtures.tempDir("t1"), two = Fixtures.tempDir("t2")
        _ = try ingest([Fixtures.samples], out: one, options: o, layout: RunLayout(threads: 1))
        _ = try ingest([Fixtures.samples], out: two, options: o, layout: RunLayout(threads: 2))
        let a = shardBytes(one), b = shardBytes(two)
        #expect(a.count > 3)
        #expect(a == b)
        let m1 = try IngestManifest.read(one + "/manifest.json"), m2 = try IngestManifest.read(two + "/manifest.json")
        #expect(m1.outputs == m2.outputs)
        #expect(m1.counts == m2.counts)
    }

    /// Workers ahead of the first unfinished input spill to disk; the bytes stay the same.
    @Test func spilledDocumentsKeepTheirPlace() throws {
        let one = Fixtures.tempDir("s1"), two = Fixtures.tempDir("s2")
        let inputs = try Ingest.enumerateInputs([Fixtures.samples])
        _ = try Ingest.run(inputs: inputs, outDir: one, options: IngestOptions(), layout: RunLayout(threads: 1))
        _ = try Ingest.run(inputs: inputs, outDir: two, options: IngestOptions(), layout: RunLayout(threads: 2),
                           bufferLimit: 1000)
        #expect(shardBytes(one) == shardBytes(two))
        #expect(try FileManager.default.contentsOfDirectory(atPath: two).filter { $0.contains("spill") }.isEmpty)
    }

    @Test func taskSplitsCoverEveryDocumentOnce() throws {
        let whole = Fixtures.tempDir("whole")
        let (_, all) = try ingest([Fixtures.samples], out: whole)
        let split = Fixtures.tempDir("split")
        var docs: [Document] = []
        for t in 0..<3 {
            let r = try Ingest.run(inputs: Ingest.split(try Ingest.enumerateInputs([Fixtures.samples]), taskIndex: t, taskCount: 3),
                                   outDir: split, options: IngestOptions(), layout: RunLayout(taskIndex: t, taskCount: 3, threads: 2))
            #expect(r.manifestPath.hasSuffix(String(format: "manifest-%05d.json", t)))
        }
        docs = try Fixtures.documents(in: split)
        #expect(docs.count == all.count)
        #expect(Set(docs.map { $0.jsonLine() }) == Set(all.map { $0.jsonLine() }))
        // Contiguous shares: the tasks' shards in name order hold the documents in input order.
        #expect(docs.map { $0.jsonLine() } == all.map { $0.jsonLine() })
        // Splitting twice the same way gives the same shards.
        let again = Fixtures.tempDir("split2")
        for t in 0..<3 {
            _ = try Ingest.run(inputs: Ingest.split(try Ingest.enumerateInputs([Fixtures.samples]), taskIndex: t, taskCount: 3),
                               outDir: again, options: IngestOptions(), layout: RunLayout(taskIndex: t, taskCount: 3, threads: 1))
        }
        #expect(shardBytes(split) == shardBytes(again))
    }

    @Test func rerunSkipsCompleteWorkAndRedoesChangedWork() throws {
        let dir = Fixtures.tempDir("rerun")
        Fixtures.write(english[0], to: dir + "/in/a.txt")
        let out = dir + "/out"
        let first = try Ingest.run(inputs: try Ingest.enumerateInputs([dir + "/in"]), outDir: out, options: IngestOptions(), layout: RunLayout())
        #expect(!first.upToDate)
        let second = try Ingest.run(inputs: try Ingest.enumerateInputs([dir + "/in"]), outDir: out, options: IngestOptions(), layout: RunLayout())
        #expect(second.upToDate)
        var o = IngestOptions()
        o.compression = .gz
        let third = try Ingest.run(inputs: try Ingest.enumerateInputs([dir + "/in"]), outDir: out, options: o, layout: RunLayout())
        #expect(!third.upToDate)
        // The zstd shard of the first run is gone: one output, in gzip.
        #expect(Fixtures.shardFiles(out).map { ($0 as NSString).lastPathComponent } == ["docs-00000-00000.jsonl.gz"])
        Fixtures.write(english[1], to: dir + "/in/b.txt")
        let fourth = try Ingest.run(inputs: try Ingest.enumerateInputs([dir + "/in"]), outDir: out, options: o, layout: RunLayout())
        #expect(!fourth.upToDate)
        #expect(fourth.manifest.counts.documents == 2)
        let forced = try Ingest.run(inputs: try Ingest.enumerateInputs([dir + "/in"]), outDir: out, options: o, layout: RunLayout(), force: true)
        #expect(!forced.upToDate)
    }

    @Test func staleShardsAndTemporaryFilesOfAKilledRunAreRemoved() throws {
        let dir = Fixtures.tempDir("stale")
        Fixtures.write(english[0], to: dir + "/in/a.txt")
        let out = dir + "/out"
        Fixtures.write("half-written", to: out + "/.docs-00000-00003.jsonl.zst.tmp-999")
        Fixtures.write("old shard", to: out + "/docs-00000-00007.jsonl.zst")
        Fixtures.write("other task", to: out + "/docs-00001-00000.jsonl.zst")
        _ = try Ingest.run(inputs: try Ingest.enumerateInputs([dir + "/in"]), outDir: out, options: IngestOptions(), layout: RunLayout())
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == ["docs-00000-00000.jsonl.zst", "docs-00001-00000.jsonl.zst", "manifest.json"])
    }

    @Test func manifestDescribesInputsAndOutputs() throws {
        let dir = Fixtures.tempDir("manifest")
        Fixtures.write(english[0], to: dir + "/in/a.txt")
        let r = try Ingest.run(inputs: try Ingest.enumerateInputs([dir + "/in"]), outDir: dir + "/out", options: IngestOptions(), layout: RunLayout())
        let m = try IngestManifest.read(r.manifestPath)
        #expect(m == r.manifest)
        #expect(m.inputs.count == 1)
        let expected = try Fixtures.run("sha256sum", [dir + "/in/a.txt"]).stdout.prefix(64)
        #expect(m.inputs[0].sha256 == String(expected))
        let shard = dir + "/out/" + m.outputs[0].path
        #expect(m.outputs[0].sha256 == String(try Fixtures.run("sha256sum", [shard]).stdout.prefix(64)))
        #expect(m.outputs[0].bytes == Int64(Fixtures.read(shard).count))
        #expect(m.kilnVersion == Kiln.version)
    }

    @Test func configFromYAML() throws {
        let o = try IngestOptions.fromYAML("text_field: body\ncompression: gz\nshard_size: 1000\n")
        #expect(o.textField == "body")
        #expect(o.compression == .gz)
        #expect(o.shardSize == 1000)
        #expect(o.idField == IngestOptions.defaults.idField)
        #expect(throws: ConfigError.self) { _ = try IngestOptions.fromYAML("text_feild: body\n") }
        #expect(throws: ConfigError.self) { _ = try IngestOptions.fromYAML("compression: rar\n") }
    }
}
