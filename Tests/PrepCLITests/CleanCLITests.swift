import DataPrep
import Foundation
import Testing
import TestSupport

@Suite struct CleanCLITests {
    @Test func cleansTheSamplesAndSaysWhy() throws {
        let dir = Fixtures.tempDir("clean")
        let ingest = try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/docs", "--quiet"])
        #expect(ingest.status == 3)
        let r = try Fixtures.prep(["clean", dir + "/docs", "--out", dir + "/clean", "--rejected", dir + "/rejected", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let m = try CleanManifest.read(dir + "/clean/manifest.json")
        #expect(m.counts.documentsIn == 491)
        let dropped = m.counts.dropped.values.reduce(0) { $0 + $1.documents }
        #expect(m.counts.kept.documents + dropped == 491)
        #expect(m.counts.kept.documents > 150, "kept \(m.counts.kept.documents)")
        #expect(m.counts.languages["zh", default: 0] > 100)
        #expect(m.counts.languages["en", default: 0] > 100)
        // Every dropped document is in the rejected shards, with its reason.
        let rejected = try Fixtures.documents(in: dir + "/rejected")
        #expect(rejected.count == dropped)
        #expect(rejected.allSatisfy { d in d.metadata.contains { $0.key == "drop_reason" } })
        let kept = try Fixtures.documents(in: dir + "/clean")
        #expect(kept.count == m.counts.kept.documents)
        #expect(kept.allSatisfy { d in d.metadata.contains { $0.key == "lang" } })
        if let python = Fixtures.venvPython {
            let v = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/validate-json.py",
                                              Fixtures.repoRoot + "/schemas/clean-manifest.schema.json", dir + "/clean/manifest.json"])
            #expect(v.status == 0, "\(v.stdout)")
            let d = try Fixtures.run(python, [Fixtures.repoRoot + "/scripts/validate-json.py",
                                              Fixtures.repoRoot + "/schemas/document.schema.json"] + Fixtures.shardFiles(dir + "/clean"))
            #expect(d.status == 0, "\(d.stdout)")
        }

        // --lang keeps only the languages named; the same run with two threads gives the same bytes.
        let zh = try Fixtures.prep(["clean", dir + "/docs", "--out", dir + "/zh", "--lang", "zh", "--threads", "1", "--quiet"])
        #expect(zh.status == 0)
        let zhDocs = try Fixtures.documents(in: dir + "/zh")
        #expect(!zhDocs.isEmpty)
        #expect(zhDocs.allSatisfy { $0.metadata.contains(JSONMember("lang", .string("zh"))) })
        let zh2 = try Fixtures.prep(["clean", dir + "/docs", "--out", dir + "/zh2", "--lang", "zh", "--threads", "2", "--quiet"])
        #expect(zh2.status == 0)
        #expect(shardBytes(dir + "/zh") == shardBytes(dir + "/zh2"))

        // Split between tasks, the same documents come out, each once.
        // Several input shards first, so that the tasks have something to divide.
        let many = dir + "/many"
        #expect(try Fixtures.prep(["clean", dir + "/docs", "--out", dir + "/split", "--shard-size", "64KB", "--quiet"]).status == 0)
        #expect(Fixtures.shardFiles(dir + "/split").count > 3)
        #expect(try Fixtures.prep(["clean", dir + "/split", "--out", many + "-one", "--quiet"]).status == 0)
        for t in 0..<2 {
            let r = try Fixtures.prep(["clean", dir + "/split", "--out", many, "--task-index", "\(t)", "--task-count", "2", "--quiet"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        let split = try Fixtures.documents(in: many)
        let one = try Fixtures.documents(in: many + "-one")
        #expect(Set(split.map { $0.jsonLine() }) == Set(one.map { $0.jsonLine() }))
        #expect(split.count == one.count)
        // Contiguous shares: read in name order, the tasks' shards hold the single run's order.
        #expect(split.map { $0.jsonLine() } == one.map { $0.jsonLine() })
    }

    @Test func configFileAndPrintConfig() throws {
        let dir = Fixtures.tempDir("clean")
        let printed = try Fixtures.prep(["clean", "--print-config"])
        #expect(printed.status == 0)
        #expect(printed.stdout.contains("gopher_quality:"))
        #expect(printed.stdout.contains("min_doc_words: 50"))
        // The printed configuration is itself a valid configuration.
        Fixtures.write(printed.stdout, to: dir + "/all.yaml")
        Fixtures.write("{\"id\":\"a\",\"text\":\"short\",\"source\":{\"input\":\"x\"},\"metadata\":{}}\n", to: dir + "/docs/docs-00000-00000.jsonl")
        let r = try Fixtures.prep(["clean", dir + "/docs", "--out", dir + "/o", "--config", dir + "/all.yaml", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        Fixtures.write("gopher_quality:\n  min_doc_wrods: 3\n", to: dir + "/bad.yaml")
        let bad = try Fixtures.prep(["clean", dir + "/docs", "--out", dir + "/o2", "--config", dir + "/bad.yaml"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("gopher_quality.min_doc_wrods"))
        Fixtures.write("gopher_quality:\n  min_doc_words: 1\nc4:\n  enabled: false\n", to: dir + "/loose.yaml")
        let loose = try Fixtures.prep(["clean", dir + "/docs", "--out", dir + "/o3", "--config", dir + "/loose.yaml", "--json"])
        #expect(loose.status == 0)
        let m = try CleanManifest.read(dir + "/o3/manifest.json")
        #expect(m.options.gopherQuality.minDocWords == 1)
        #expect(m.options.c4.enabled == false)
    }
}
