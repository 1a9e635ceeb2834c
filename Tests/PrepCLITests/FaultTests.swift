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

/// The same two faults for the stages that read shards (clean, dedup, tokenize): a shard deleted
/// or truncated while the stage runs. A shard is an earlier stage's output, so unlike a raw input
/// of ingest, a missing or shorter one cannot be skipped: exit 1, an error naming the shard, and no
/// output that looks complete (no manifest, no temporary file, no shard under its final name).
///
/// Each run is stopped (SIGSTOP) once it is where the fault should hit, the file is changed, and the
/// run is let go on (SIGCONT): the moment does not depend on the machine's speed or load.
@Suite struct ShardFaultTests {
    /// Made once for the suite: `DIR/docs`, uncompressed shards of 320 KB (a 48th of the English
    /// corpus: three full shards and a short one), and a small tokenizer in `DIR/tok`.
    static let prepared: Result<String, Error> = Result {
        let dir = Fixtures.tempDir("shardfaults")
        let text = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/en-docs.jsonl.zst"]).stdout
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        let part = lines.enumerated().filter { $0.offset % 48 == 0 }.map { String($0.element) }.joined(separator: "\n")
        Fixtures.write(part + "\n", to: dir + "/in/docs.jsonl")
        let ingest = try Fixtures.prep(["ingest", dir + "/in", "--out", dir + "/docs", "--compression", "none",
                                        "--shard-size", "320KB", "--quiet"])
        guard ingest.status == 0 else { throw FixtureError(message: "ingest: \(ingest.stderr)") }
        Fixtures.write("{\"id\": \"t\", \"text\": \"\(String(repeating: "a tokenizer for the fault tests. ", count: 40))\"}\n",
                       to: dir + "/tokdocs/docs.jsonl")
        let tok = try Fixtures.prep(["train-tokenizer", dir + "/tokdocs", "--vocab-size", "300", "--out", dir + "/tok", "--quiet"])
        guard tok.status == 0 else { throw FixtureError(message: "train-tokenizer: \(tok.stderr)") }
        return dir
    }

    /// A copy of the prepared shards in a folder of the test's own (the tests change them), the
    /// tokenizer beside them; calls `body` with the folder and the shards, in name order.
    static func withShards(_ label: String, _ body: (String, [String]) throws -> Void) throws {
        let source = try prepared.get()
        let dir = Fixtures.tempDir(label)
        try FileManager.default.copyItem(atPath: source + "/docs", toPath: dir + "/docs")
        try FileManager.default.createSymbolicLink(atPath: dir + "/tok", withDestinationPath: source + "/tok")
        let files = Fixtures.shardFiles(dir + "/docs")
        try #require(files.count >= 3 && files.prefix(3).allSatisfy { Fixtures.read($0).count > 300_000 }, "\(files)")
        try body(dir, files)
    }

    /// Runs `prep ARGS` (with --threads 1, so the shards are read in order) until `when` holds for
    /// its open files, stops it, calls `fault`, lets it go on, and returns its exit status and
    /// standard error.
    static func prep(_ args: [String], when: @escaping ([(path: String, position: Int64)]) -> Bool,
                     fault: () -> Void) throws -> (status: Int32, stderr: String, faulted: Bool) {
        let errPath = Fixtures.tempDir("faulterr") + "/stderr"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Fixtures.binDir + "/prep")
        p.arguments = args + ["--threads", "1", "--quiet"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let reached = ChildProcess.wait(for: p.processIdentifier, timeout: 30, until: when)
        if reached {
            kill(p.processIdentifier, SIGSTOP)
            fault()
            kill(p.processIdentifier, SIGCONT)
        }
        p.waitUntilExit()
        try err.close()
        return (p.terminationStatus, String(decoding: Fixtures.read(errPath), as: UTF8.self), reached)
    }

    /// Whether `files` has `path` open with some but not all of its `size` bytes read.
    static func reading(_ path: String, size: Int, _ files: [(path: String, position: Int64)]) -> Bool {
        files.contains { FaultTests.same($0.path, path) && $0.position > 0 && $0.position < Int64(size) }
    }

    static func isOpen(_ path: String, _ files: [(path: String, position: Int64)]) -> Bool {
        files.contains { FaultTests.same($0.path, path) }
    }

    /// A failed run's output folder: no manifest, no temporary file, nothing under a final name
    /// (the shards here are smaller than one output shard, so none can be complete).
    static func expectNothingLeft(_ out: String, _ label: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        #expect(names.isEmpty, "\(label): a failed run left \(names)")
    }

    /// Checks a faulted run: it was stopped where intended, exit 1, the error names the shard and
    /// says what happened, nothing left that looks complete.
    static func expectFailure(_ r: (status: Int32, stderr: String, faulted: Bool), _ label: String, out: String,
                              naming shard: String, saying what: String) {
        #expect(r.faulted, "\(label): the run never reached the moment of the fault")
        #expect(r.status == 1, "\(label): exit \(r.status): \(r.stderr)")
        #expect(r.stderr.contains(shard) && r.stderr.contains(what), "\(label): \(r.stderr)")
        #expect(!r.stderr.contains("cannot write"), "\(label): a read error called a write error: \(r.stderr)")
        expectNothingLeft(out, label)
        print("\(label): exit \(r.status): \(r.stderr.split(separator: "\n").first ?? "")")
    }

    /// The stage commands, each writing into `out`.
    static func commands(_ dir: String) -> [(name: String, args: (String) -> [String])] {
        [("clean", { ["clean", dir + "/docs", "--out", $0] }),
         ("dedup", { ["dedup", dir + "/docs", "--out", $0] }),
         ("tokenize", { ["tokenize", dir + "/docs", "--tokenizer", dir + "/tok", "--out", $0] })]
    }

    /// The second shard is deleted while the first is read: exit 1, "…/docs-00000-00001.jsonl: open
    /// failed: No such file or directory".
    @Test func aShardDeletedMidRunIsAnError() throws {
        try Self.withShards("shardgone") { dir, files in
            for (name, args) in Self.commands(dir) {
                let saved = Fixtures.read(files[1]), size = Fixtures.read(files[0]).count
                defer { Fixtures.write(saved, to: files[1]) }
                let out = dir + "/out-" + name
                let r = try Self.prep(args(out), when: { Self.reading(files[0], size: size, $0) && !Self.isOpen(files[1], $0) }) {
                    unlink(files[1])
                }
                Self.expectFailure(r, "\(name), shard deleted", out: out, naming: files[1], saying: "No such file or directory")
            }
        }
    }

    /// The first shard is cut to 1000 bytes once the stage has read part of it: exit 1, "…: the
    /// file was truncated while being read: it had N bytes when opened and ended at byte M".
    @Test func aShardTruncatedWhileReadIsAnError() throws {
        try Self.withShards("shardcut") { dir, files in
            for (name, args) in Self.commands(dir) {
                let saved = Fixtures.read(files[0])
                defer { Fixtures.write(saved, to: files[0]) }
                let out = dir + "/out-" + name
                let r = try Self.prep(args(out), when: { Self.reading(files[0], size: saved.count, $0) }) { truncate(files[0], 1000) }
                Self.expectFailure(r, "\(name), shard truncated while read", out: out, naming: files[0],
                                   saying: "truncated while being read")
            }
        }
    }

    /// The last shard loses its second half (at a line break, so every line left is a whole
    /// record) while the first is read: the stage has not opened it yet, so only the size it listed
    /// at the start shows the cut. Without that check clean, dedup and train-tokenizer read a
    /// shorter shard and exited 0 with a complete manifest (tokenize too, until it read its
    /// shards with their listed size).
    @Test func aShardTruncatedBeforeItsTurnIsAnError() throws {
        try Self.withShards("shardearly") { dir, files in
            let stages = Self.commands(dir) + [("train-tokenizer", { ["train-tokenizer", dir + "/docs", "--vocab-size", "300", "--out", $0] })]
            for (name, args) in stages {
                let saved = Fixtures.read(files[2]), size = Fixtures.read(files[0]).count
                defer { Fixtures.write(saved, to: files[2]) }
                let cut = (saved[(saved.count / 2)...].firstIndex(of: 0x0A) ?? saved.count - 1) + 1
                let out = dir + "/out-" + name
                let r = try Self.prep(args(out), when: { Self.reading(files[0], size: size, $0) && !Self.isOpen(files[2], $0) }) {
                    truncate(files[2], off_t(cut))
                }
                Self.expectFailure(r, "\(name), shard truncated before its turn", out: out, naming: files[2],
                                   saying: "changed while the stage ran")
            }
        }
    }

    /// dedup reads its shards twice (signatures, then the filter): the third shard is cut at a
    /// line break once the filter (which holds the removal list open) reads one of the first two,
    /// before it reopens the third.
    @Test func dedupSeesAShardTruncatedBetweenItsTwoReads() throws {
        try Self.withShards("sharddedup") { dir, files in
            let saved = Fixtures.read(files[2])
            defer { Fixtures.write(saved, to: files[2]) }
            let cut = (saved[(saved.count / 2)...].firstIndex(of: 0x0A) ?? saved.count - 1) + 1
            let out = dir + "/out"
            let removals = (out as NSString).standardizingPath + "/.dedup-work/" + Dedup.removalsFile
            let r = try Self.prep(["dedup", dir + "/docs", "--out", out], when: { open in
                Self.isOpen(removals, open) && (Self.isOpen(files[0], open) || Self.isOpen(files[1], open))
            }) {
                truncate(files[2], off_t(cut))
            }
            Self.expectFailure(r, "dedup, shard truncated between its reads", out: out, naming: files[2],
                               saying: "changed while the stage ran")
        }
    }
}
