import DataPrep
import Foundation
import Testing
import TestSupport

@Suite struct IngestCLITests {
    @Test func helpHasExamplesAndExitCodes() throws {
        let r = try Fixtures.prep(["ingest", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("EXAMPLES"))
        #expect(r.stdout.contains("EXIT STATUS"))
        #expect(r.stdout.contains("--task-index"))
        let root = try Fixtures.prep(["--help"])
        #expect(root.status == 0)
        #expect(root.stdout.contains("ingest"))
        let tune = try Fixtures.run(Fixtures.binDir + "/tune", ["--help"])
        #expect(tune.status == 0)
        #expect(tune.stdout.contains("tune run"))
    }

    @Test func usageErrorsExitWithTwo() throws {
        let dir = Fixtures.tempDir("cli")
        #expect(try Fixtures.prep(["ingest", "--out", dir + "/o"]).status == 2)
        #expect(try Fixtures.prep(["ingest", dir + "/missing", "--out", dir + "/o"]).status == 2)
        #expect(try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/o", "--task-index", "3", "--task-count", "2"]).status == 2)
        #expect(try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/o", "--compression", "rar"]).status == 2)
        Fixtures.write("text_feild: body\n", to: dir + "/bad.yaml")
        let r = try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/o", "--config", dir + "/bad.yaml"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("text_feild"))
    }

    @Test func inputErrorsExitWithThreeAndStrictWithOne() throws {
        let dir = Fixtures.tempDir("cli")
        let ok = try Fixtures.prep(["ingest", Fixtures.samples + "/notes", "--out", dir + "/ok", "--quiet"])
        #expect(ok.status == 0)
        #expect(ok.stderr.isEmpty)
        let r = try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/o", "--json"])
        #expect(r.status == 3)
        #expect(r.stderr.contains("truncated.tar.gz"))
        let summary = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        #expect(summary?["exit_status"] as? Int == 3)
        let manifest = summary?["manifest"] as? [String: Any]
        #expect((manifest?["counts"] as? [String: Any])?["documents"] as? Int == 491)
        let strict = try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/s", "--strict", "--quiet"])
        #expect(strict.status == 1)
        #expect(!FileManager.default.fileExists(atPath: dir + "/s/manifest.json"))
        // Output that cannot be written at all: exit 1.
        Fixtures.write("a file, not a folder", to: dir + "/file")
        #expect(try Fixtures.prep(["ingest", Fixtures.samples + "/notes", "--out", dir + "/file/sub", "--quiet"]).status == 1)
    }

    @Test func inputsFromAListFile() throws {
        let dir = Fixtures.tempDir("cli")
        Fixtures.write("# inputs\n\(Fixtures.samples)/notes/plain.txt\n\n\(Fixtures.samples)/zh-big5.txt\n", to: dir + "/list.txt")
        let r = try Fixtures.prep(["ingest", "--inputs-from", dir + "/list.txt", "--out", dir + "/o", "--json"])
        #expect(r.status == 0)
        let m = try IngestManifest.read(dir + "/o/manifest.json")
        #expect(m.inputs.map { ($0.path as NSString).lastPathComponent } == ["plain.txt", "zh-big5.txt"])
    }

    @Test func secondRunIsUpToDate() throws {
        let dir = Fixtures.tempDir("cli")
        let first = try Fixtures.prep(["ingest", Fixtures.samples + "/notes", "--out", dir + "/o"])
        #expect(first.status == 0)
        let second = try Fixtures.prep(["ingest", Fixtures.samples + "/notes", "--out", dir + "/o"])
        #expect(second.stderr.contains("up to date"))
    }

    @Test func slurmArrayVariablesSplitTheInputs() throws {
        let dir = Fixtures.tempDir("cli")
        let r = try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/o", "--quiet"],
                                  env: ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"])
        #expect(r.status == 0 || r.status == 3)
        let m = try IngestManifest.read(dir + "/o/manifest-00001.json")
        #expect(m.task.index == 1 && m.task.count == 4)
        #expect(m.inputs.count == 3)
    }

    /// Kills each stage at several random moments with SIGKILL and reruns it: the shards must be
    /// byte-identical to an uninterrupted run's, and no temporary file may be left.
    @Test func killedRunsRerunToTheSameBytes() throws {
        let dir = Fixtures.tempDir("kill")
        // The corpora's English documents (about 50 MB), in four files so both threads work.
        let corpus = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/en-docs.jsonl.zst"]).stdout
        let lines = corpus.split(separator: "\n", omittingEmptySubsequences: true)
        for k in 0..<4 {
            let part = lines.enumerated().filter { $0.offset % 4 == k }.map { String($0.element) }.joined(separator: "\n")
            Fixtures.write(part + "\n", to: dir + "/in/part\(k).jsonl")
        }
        let common = ["--shard-size", "2MB", "--threads", "2", "--quiet"]
        let kills = try killAndRerun(["ingest", dir + "/in"] + common, dir: dir, name: "ingest")
        // Clean and dedup are slower per byte (and this is a debug build): a quarter of the text.
        _ = try Fixtures.prep(["ingest", dir + "/in/part0.jsonl", "--out", dir + "/docs"] + common)
        let cleanKills = try killAndRerun(["clean", dir + "/docs", "--threads", "2", "--shard-size", "1MB", "--quiet"],
                                          dir: dir, name: "clean")
        let dedupKills = try killAndRerun(["dedup", dir + "/docs", "--threads", "2", "--shard-size", "1MB", "--quiet"],
                                          dir: dir, name: "dedup")
        print("kill points landed mid-run: ingest \(kills.landed)/\(kills.tried), clean \(cleanKills.landed)/\(cleanKills.tried), "
              + "dedup \(dedupKills.landed)/\(dedupKills.tried) (KILN_KILL_SEED=\(KillHarness.seed))")
    }

    @Test func outputsValidateAgainstTheSchemas() throws {
        guard let python = Fixtures.venvPython else {
            Issue.record("no venv: run `make venv` (make test does it)")
            return
        }
        let dir = Fixtures.tempDir("schema")
        let r = try Fixtures.prep(["ingest", Fixtures.samples, "--out", dir + "/o", "--quiet"])
        #expect(r.status == 3)
        let validator = Fixtures.repoRoot + "/scripts/validate-json.py"
        let docs = try Fixtures.run(python, [validator, Fixtures.repoRoot + "/schemas/document.schema.json"] + Fixtures.shardFiles(dir + "/o"))
        #expect(docs.status == 0, "\(docs.stdout)")
        #expect(docs.stdout.contains("491 passed, 0 failed"))
        let manifest = try Fixtures.run(python, [validator, Fixtures.repoRoot + "/schemas/ingest-manifest.schema.json", dir + "/o/manifest.json"])
        #expect(manifest.status == 0, "\(manifest.stdout)")
    }
}

func shardBytes(_ dir: String) -> [String: [UInt8]] {
    Dictionary(uniqueKeysWithValues: Fixtures.shardFiles(dir).map { (($0 as NSString).lastPathComponent, Fixtures.read($0)) })
}

/// Kills a `prep` stage at `KillHarness.points(normal: 4)` random moments (see
/// Tests/TestSupport/KillHarness.swift) and expects every rerun to give the uninterrupted bytes.
func killAndRerun(_ args: [String], dir: String, name: String,
                  outputs: @escaping (String) -> [String: [UInt8]] = shardBytes) throws -> KillReport {
    let report = try KillHarness.check(.prep(name, args, outputs: outputs), dir: dir, count: KillHarness.points(normal: 4))
    #expect(report.failures.isEmpty, "\(report)")
    #expect(report.landed >= 1, "\(name): no kill landed mid-run: \(report)")
    return report
}

/// Every file of an output folder but the manifests and hidden files, by name.
func outputFiles(_ dir: String) -> [String: [UInt8]] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return Dictionary(uniqueKeysWithValues: names.filter { !$0.hasPrefix(".") && !$0.hasPrefix("manifest") }
        .map { ($0, Fixtures.read(dir + "/" + $0)) })
}
