import DataPrep
import Foundation
import Testing
import TestSupport

/// Faults from outside the process: a full disk, an output folder that cannot be written, an
/// input that disappears or is truncated mid-run. Each gives a clear error, and nothing that
/// looks complete is left behind (docs/RELIABILITY.md lists what each one gave).
@Suite struct FaultTests {
    /// An eighth of the corpora's English documents (about 6 MB of JSONL) in `dir/in/docs.jsonl`.
    static func corpus(_ dir: String) throws -> String {
        let text = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/en-docs.jsonl.zst"]).stdout
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let part = lines.enumerated().filter { $0.offset % 8 == 0 }.map { String($0.element) }.joined(separator: "\n")
        Fixtures.write(part + "\n", to: dir + "/in/docs.jsonl")
        return dir + "/in/docs.jsonl"
    }

    /// Whether two paths name the same file (/proc spells them without the double slash that
    /// NSTemporaryDirectory() leaves).
    static func same(_ a: String, _ b: String) -> Bool {
        (a as NSString).standardizingPath == (b as NSString).standardizingPath
    }

    /// Checks a folder that a failed run left: no manifest, no temporary file, and every file
    /// under its final name byte-identical to the same file of an uninterrupted run.
    static func expectNothingHalfDone(_ out: String, reference: String, _ label: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        #expect(!names.contains { $0.hasPrefix("manifest") }, "\(label): a manifest after a failed run: \(names)")
        #expect(!names.contains { $0.hasPrefix(".") }, "\(label): temporary files left: \(names)")
        for n in names where !n.hasPrefix(".") {
            #expect(Fixtures.read(out + "/" + n) == Fixtures.read(reference + "/" + n), "\(label): \(n) is not the complete file")
        }
    }

    /// A 2 MB tmpfs as the output folder of ingest and tokenize: exit 1, an error naming the file
    /// and ENOSPC, no manifest, and only complete files under final names.
    @Test func aFullDiskIsAClearErrorAndLeavesNoCompleteLookingOutput() throws {
        guard let mount = ScratchMount.tmpfs(size: "2m", test: "full disk (prep)") else { return }
        defer { mount.unmount() }
        let dir = Fixtures.tempDir("fulldisk")
        let input = try Self.corpus(dir)
        let ingest = ["ingest", input, "--compression", "none", "--shard-size", "512KB", "--threads", "2", "--quiet"]
        #expect(try Fixtures.prep(ingest + ["--out", dir + "/docs"]).status == 0)
        let full = try Fixtures.prep(ingest + ["--out", mount.path + "/docs"])
        #expect(full.status == 1, "\(full.status): \(full.stderr)")
        #expect(full.stderr.contains("No space left on device") && full.stderr.contains(mount.path + "/docs/"), "\(full.stderr)")
        Self.expectNothingHalfDone(mount.path + "/docs", reference: dir + "/docs", "ingest")
        print("full disk, ingest: exit \(full.status): \(full.stderr.split(separator: "\n").first ?? "")")

        _ = try FileManager.default.removeItem(atPath: mount.path + "/docs")
        #expect(try Fixtures.prep(["train-tokenizer", dir + "/docs", "--vocab-size", "512", "--out", dir + "/tok", "--quiet"]).status == 0)
        let tokenize = ["tokenize", dir + "/docs", "--tokenizer", dir + "/tok", "--shard-tokens", "200000", "--quiet"]
        #expect(try Fixtures.prep(tokenize + ["--out", dir + "/tokens"]).status == 0)
        let fullTokens = try Fixtures.prep(tokenize + ["--out", mount.path + "/tokens"])
        #expect(fullTokens.status == 1, "\(fullTokens.status): \(fullTokens.stderr)")
        #expect(fullTokens.stderr.contains("No space left on device") && fullTokens.stderr.contains(mount.path + "/tokens/"),
                "\(fullTokens.stderr)")
        Self.expectNothingHalfDone(mount.path + "/tokens", reference: dir + "/tokens", "tokenize")
        print("full disk, tokenize: exit \(fullTokens.status): \(fullTokens.stderr.split(separator: "\n").first ?? "")")
    }

    /// An output folder on a read-only mount (root ignores permission bits): exit 1 and an error
    /// that names the folder, before any input is read.
    @Test func anUnwritableOutputFolderIsAClearError() throws {
        let dir = Fixtures.tempDir("rofolder")
        Fixtures.write("A short document.\n", to: dir + "/in/a.txt")
        #expect(try Fixtures.prep(["ingest", dir + "/in", "--out", dir + "/docs", "--quiet"]).status == 0)
        try withUnwritableFolder(test: "unwritable output folder") { out in
            for args in [["ingest", dir + "/in"], ["clean", dir + "/docs"], ["dedup", dir + "/docs"]] {
                let r = try Fixtures.prep(args + ["--out", out, "--quiet"])
                #expect(r.status == 1, "\(args[0]): \(r.status) \(r.stderr)")
                #expect(r.stderr.contains(out) && r.stderr.contains("not writable"),
                        "\(args[0]): \(r.stderr)")
                #expect(((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).isEmpty)
            }
        }
    }

    /// One input is deleted while ingest reads the one before it: the error names it (exit 3,
    /// an entry in the manifest's error list), and the inputs before and after it are read.
    @Test func anInputThatDisappearsMidRunIsNamedAndTheOthersAreRead() throws {
        let dir = Fixtures.tempDir("vanish")
        let big = try Self.corpus(dir)
        Fixtures.write("The second input, which disappears.\n", to: dir + "/in/gone.txt")
        Fixtures.write("The third input, read after the missing one.\n", to: dir + "/in/zz-last.txt")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.binDir + "/prep")
        p.arguments = ["ingest", dir + "/in", "--out", dir + "/out", "--threads", "1", "--quiet"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Inputs are read in name order: docs.jsonl (6 MB) first.
        let reading = ChildProcess.wait(for: p.processIdentifier) { files in
            files.contains { Self.same($0.path, big) } && !files.contains { $0.path.hasSuffix("gone.txt") }
        }
        #expect(reading, "ingest never had docs.jsonl open")
        unlink(dir + "/in/gone.txt")
        p.waitUntilExit()
        #expect(p.terminationStatus == 3)
        let m = try IngestManifest.read(dir + "/out/manifest.json")
        let errors = m.issues.filter { $0.input.hasSuffix("gone.txt") }
        #expect(errors.count == 1 && errors.first?.message.contains("No such file or directory") == true, "\(m.issues)")
        let texts = try Fixtures.documents(in: dir + "/out").map(\.text)
        #expect(texts.last == "The third input, read after the missing one.\n")
        #expect(texts.count == Fixtures.read(big).count { $0 == 0x0A } + 1)
    }

    /// An input truncated to 1 MB while ingest reads it: an error naming it (exit 3, kind
    /// `truncated_while_reading`) instead of a silently shorter input; the documents before the
    /// cut are kept and the next input is read.
    @Test func anInputTruncatedWhileReadIsAnErrorNotAShorterInput() throws {
        let dir = Fixtures.tempDir("shrink")
        let big = try Self.corpus(dir)
        let size = Int64(Fixtures.read(big).count)
        Fixtures.write("The input after the truncated one.\n", to: dir + "/in/zz-last.txt")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.binDir + "/prep")
        p.arguments = ["ingest", dir + "/in", "--out", dir + "/out", "--threads", "1", "--quiet"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        var positionAtCut: Int64 = -1
        let reading = ChildProcess.wait(for: p.processIdentifier) { files in
            guard let f = files.first(where: { Self.same($0.path, big) }), f.position > 0 else { return false }
            positionAtCut = f.position
            return true
        }
        #expect(reading && positionAtCut < size, "ingest had read \(positionAtCut) of \(size) bytes")
        truncate(big, 1 << 20)
        p.waitUntilExit()
        #expect(p.terminationStatus == 3)
        let m = try IngestManifest.read(dir + "/out/manifest.json")
        #expect(m.counts.errors["truncated_while_reading"] == 1, "\(m.counts.errors)")
        let error = m.issues.first { $0.input == big }
        #expect(error?.message.contains("truncated while being read") == true && error?.message.contains("\(size) bytes") == true,
                "\(m.issues)")
        let texts = try Fixtures.documents(in: dir + "/out").map(\.text)
        #expect(texts.last == "The input after the truncated one.\n")
        print("truncated while read: cut at byte \(positionAtCut) of \(size); \(texts.count - 1) documents kept; \(error?.message ?? "")")
    }
}
