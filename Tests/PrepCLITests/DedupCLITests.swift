import DataPrep
import Foundation
import Testing
import TestSupport

@Suite struct DedupCLITests {
    /// Shards with planted duplicates: the samples' documents, then exact and near copies of some.
    func plantedShards(_ dir: String) throws -> (folder: String, originals: Int, copies: Int) {
        let ingest = try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/docs", "--quiet"])
        #expect(ingest.status == 3)
        let docs = try Fixtures.documents(in: dir + "/docs").filter { $0.text.utf8.count > 400 }
        var copies: [Document] = []
        for (k, d) in docs.enumerated() where k % 5 == 0 {
            var exact = d
            exact.id = d.id + "-exact"
            copies.append(exact)
            var near = d
            near.id = d.id + "-near"
            near.text = d.text.replacingOccurrences(of: "  ", with: " ") + "\n\nOne more closing line for this copy."
            copies.append(near)
        }
        var lines = docs.map { String(decoding: $0.jsonLine(), as: UTF8.self) }.joined()
        Fixtures.write(lines, to: dir + "/in/docs-00000-00000.jsonl")
        lines = copies.map { String(decoding: $0.jsonLine(), as: UTF8.self) }.joined()
        Fixtures.write(lines, to: dir + "/in/docs-00000-00001.jsonl")
        // A third shard, so that tasks have something to split.
        Fixtures.write(String(decoding: docs[0].jsonLine(), as: UTF8.self), to: dir + "/in/docs-00000-00002.jsonl")
        return (dir + "/in", docs.count, copies.count + 1)
    }

    @Test func oneShotAndThreeStepsAgree() throws {
        let dir = Fixtures.tempDir("dedup")
        let (input, originals, copies) = try plantedShards(dir)
        let r = try Fixtures.prep(["dedup", input, "--out", dir + "/one", "--removed", dir + "/removed", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let m = try DedupManifest.read(dir + "/one/manifest.json")
        #expect(m.documents == originals + copies)
        #expect(m.kept <= originals)
        #expect(m.removed.values.reduce(0, +) >= copies)
        #expect(m.removed["exact", default: 0] >= copies / 2)
        let kept = try Fixtures.documents(in: dir + "/one")
        #expect(!kept.contains { $0.id.hasSuffix("-exact") || $0.id.hasSuffix("-near") })
        // Each removed document names the kept one (the samples hold natural duplicates too, so
        // the kept one is the first copy in input order, not always the planted original).
        let removed = try Fixtures.documents(in: dir + "/removed")
        #expect(removed.count == m.removed.values.reduce(0, +))
        let keptIDs = Set(kept.map(\.id))
        for d in removed {
            guard case let .string(of)? = d.metadata.first(where: { $0.key == "duplicate_of" })?.value else {
                Issue.record("\(d.id) has no duplicate_of")
                continue
            }
            #expect(keptIDs.contains(of), "\(d.id) names \(of)")
        }

        // The same work as three steps with two tasks, and a tiny memory budget.
        let work = dir + "/work"
        for t in 0..<2 {
            let s = try Fixtures.prep(["dedup", "signatures", input, "--work", work, "--task-index", "\(t)", "--task-count", "2",
                                       "--mem-budget", "4KB", "--quiet"])
            #expect(s.status == 0, "\(s.stderr)")
        }
        let c = try Fixtures.prep(["dedup", "cluster", "--work", work, "--mem-budget", "4KB", "--quiet"])
        #expect(c.status == 0, "\(c.stderr)")
        for t in 0..<2 {
            let f = try Fixtures.prep(["dedup", "filter", input, "--work", work, "--out", dir + "/three",
                                       "--task-index", "\(t)", "--task-count", "2", "--quiet"])
            #expect(f.status == 0, "\(f.stderr)")
        }
        let three = try Fixtures.documents(in: dir + "/three")
        #expect(three.map { $0.jsonLine() } == kept.map { $0.jsonLine() })

        // One task in three steps writes the very same files as the one-shot command.
        let work1 = dir + "/work1"
        #expect(try Fixtures.prep(["dedup", "signatures", input, "--work", work1, "--quiet"]).status == 0)
        #expect(try Fixtures.prep(["dedup", "cluster", "--work", work1, "--quiet"]).status == 0)
        #expect(try Fixtures.prep(["dedup", "filter", input, "--work", work1, "--out", dir + "/three1", "--quiet"]).status == 0)
        #expect(shardBytes(dir + "/three1") == shardBytes(dir + "/one"))
    }

    @Test func printConfigAndThreshold() throws {
        let r = try Fixtures.prep(["dedup", "--print-config"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("bands: 32"))
        let dir = Fixtures.tempDir("dedup")
        let (input, _, _) = try plantedShards(dir)
        let run = try Fixtures.prep(["dedup", input, "--out", dir + "/o"])
        #expect(run.stderr.contains("J ≈ 0.42"))
        let bad = try Fixtures.prep(["dedup", input, "--out", dir + "/o2", "--bands", "10"])
        #expect(bad.status == 2)
    }
}
