@testable import DataPrep
import Foundation
import Testing
import TestSupport

extension MinHasher.SplitMix64: RandomNumberGenerator {}

/// The dedup engine: hashes, normalization, MinHash, the external sort, union-find, the three
/// steps and the planted-duplicates evaluation on real text.
@Suite struct DedupEngineTests {
    // MARK: hashes and normalization

    /// Outputs of the reference MurmurHash3_x64_128 (seed 0) for bytes 0, 1, …, n-1, covering
    /// every tail length class, and the usual pangram.
    @Test(arguments: [
        (0, 0x0, 0x0),
        (1, 0x4610_abe5_6eff_5cb5, 0x5162_2daa_78f8_3583),
        (7, 0xbd4c_6987_ca4b_0d68, 0x613a_ddd4_bd25_c787),
        (8, 0x47a7_e1bd_d68e_2fc8, 0x60e6_ee02_ec31_dcc7),
        (15, 0x4723_1598_fd49_25e9, 0xcd84_6dee_88c6_7de9),
        (16, 0x4449_24b5_9190_3f30, 0xab90_6456_762f_e845),
        (17, 0x5c76_f40f_9fe7_c20e, 0xc15f_026b_9eda_a824),
        (31, 0x053d_d3e1_a32c_d094, 0x9ee5_9aef_b400_5490),
        (32, 0xc66d_9022_b62f_500f, 0x1c05_0a6e_34c3_1151),
        (33, 0x7d41_281b_faba_4612, 0x55ac_8073_a7d6_a30b),
    ] as [(Int, UInt64, UInt64)])
    func murmurMatchesTheReference(_ n: Int, _ h1: UInt64, _ h2: UInt64) {
        let bytes = (0..<n).map { UInt8($0) }
        let h = bytes.withUnsafeBytes { MurmurHash3.x64_128($0, seed: 0) }
        #expect(h.0 == h1 && h.1 == h2)
    }

    @Test func murmurPangram() {
        let h = Array("The quick brown fox jumps over the lazy dog".utf8).withUnsafeBytes { MurmurHash3.x64_128($0, seed: 0) }
        #expect(h.0 == 0xe34b_bc7b_bc07_1b6c && h.1 == 0x7a43_3ca9_c49a_9347)
    }

    @Test(arguments: [
        ("", ""),
        ("Hello, World!", "helloworld"),
        ("  tabs\tand\nnew\r\nlines  ", "tabsandnewlines"),
        ("ÀÉÎ Ωmega", "àéîωmega"),
        ("İstanbul", "i\u{307}stanbul"),
        ("你好，世界！", "你好世界"),
        ("soft\u{AD}hyphen zero\u{200B}width", "softhyphenzerowidth"),
        ("a+b=c $5 ~x^y|z`", "abc5xyz"),
        ("emoji 😀 kept © too", "emoji😀kept©too"),
        ("«guillemets» — dash", "guillemetsdash"),
        ("ＦＵＬＬ ｗｉｄｔｈ", "ｆｕｌｌｗｉｄｔｈ"),
        ("caf\u{FFFD}", "caf\u{FFFD}"),
    ])
    func normalization(_ text: String, _ expected: String) {
        #expect(ExactKey.normalized(text) == expected)
    }

    @Test func tokensAreWordsOrSingleIdeographs() {
        let ws = MinHasher.Workspace()
        let (bytes, tokens) = DedupText.normalize("Hello, wörld! 中文abc テスト x", into: ws)
        let norm = Array(UnsafeBufferPointer(start: ws.norm, count: bytes))
        var pieces: [String] = []
        var start = 0
        for t in 0..<tokens {
            let end = Int(ws.tokenEnds[t])
            pieces.append(String(decoding: norm[start..<end], as: UTF8.self))
            start = end
        }
        #expect(pieces == ["hello", "wörld", "中", "文", "abc", "テ", "ス", "ト", "x"])
    }

    /// Keys and signatures are part of the on-disk contract: a change must be deliberate (and
    /// bump `DedupTaskFolder.version`).
    @Test func exactKeysAreStable() {
        #expect(ExactKey.hash128("Hello, World!") == (0x8e56_e0eb_7b45_bc7a, 0xa2b6_11c5_e57d_9d77))
        #expect(ExactKey.hash128("  HELLO world ") == ExactKey.hash128("hello,world"))
        #expect(ExactKey.hash128("你好，世界") == (0xaae5_ff31_b49c_b835, 0x879d_7ff7_aac0_89c5))
        #expect(ExactKey("a b") != ExactKey("a c"))
    }

    @Test func signaturesAreStable() throws {
        let h = try MinHasher(.defaults)
        let sig = h.signature(of: "The quick brown fox jumps over the lazy dog, twice: the quick brown fox jumps again.")
        #expect(Array(sig.prefix(4)) == Self.goldenSignature)
        var o16x8 = MinHashOptions()
        o16x8.bands = 16
        o16x8.rows = 8
        #expect(try MinHasher(o16x8).bandHashes(sig)[0] == Self.goldenBand0)
        let zh = h.signature(of: "今天天气很好，我们去公园散步吧。")
        #expect(Array(zh.prefix(4)) == Self.goldenZhSignature)
    }

    static let goldenSignature: [UInt32] = [28_303_695, 111_730_614, 274_729_005, 417_959_487]
    static let goldenBand0: UInt64 = 15_376_986_842_343_187_662
    static let goldenZhSignature: [UInt32] = [946_782_921, 521_224_897, 386_832_259, 14_664_176]

    @Test func emptyAndShortTexts() throws {
        let h = try MinHasher(.defaults)
        let empty = h.sketch(of: " \n\t!! ")
        #expect(empty.shingles == 0 && empty.signature.allSatisfy { $0 == .max })
        #expect(empty.exactKey == ExactKey(""))
        let short = h.sketch(of: "two words")
        #expect(short.shingles == 1)
        #expect(h.sketch(of: "Two, WORDS.").signature == short.signature)
        #expect(h.sketch(of: "one two three four five six").shingles == 2)
    }

    // MARK: MinHash and LSH

    @Test func impliedThreshold() throws {
        #expect(abs(MinHasher.impliedThreshold(bands: 16, rows: 8) - 0.7071) < 1e-4)
        #expect(abs(MinHasher.impliedThreshold(bands: 14, rows: 8) - 0.7190) < 1e-4)
        #expect(abs(MinHasher.impliedThreshold(bands: 32, rows: 4) - 0.4204) < 1e-4)
        #expect(abs(MinHashOptions.defaults.impliedThreshold - pow(1.0 / 32, 1.0 / 4)) < 1e-12)
        #expect(abs(MinHasher.candidateProbability(jaccard: 0.8, bands: 16, rows: 8) - 0.9471) < 1e-3)
        var o = MinHashOptions()
        o.bands = 10
        #expect(throws: DedupError.self) { try o.validate() }
        o.bands = 16
        o.jaccardThreshold = 0
        #expect(throws: DedupError.self) { try o.validate() }
        #expect(throws: Never.self) { try MinHashOptions.defaults.validate() }
    }

    @Test func requiredSlotsIsTheSmallestCountReachingTheThreshold() {
        #expect(DedupCluster.requiredSlots(threshold: 0.8, permutations: 128) == 103)
        #expect(DedupCluster.requiredSlots(threshold: 0.5, permutations: 128) == 64)
        #expect(DedupCluster.requiredSlots(threshold: 0.3, permutations: 10) == 3)
        #expect(DedupCluster.requiredSlots(threshold: 1, permutations: 128) == 128)
    }

    /// Sets with a known Jaccard similarity (ngram 1, so shingles are the words): the estimate is
    /// unbiased and its spread is about √(J(1−J)/128).
    @Test(arguments: [0.2, 0.5, 0.8, 0.95])
    func estimateTracksTrueJaccard(_ j: Double) throws {
        let shared = Int((j * 400).rounded())
        let own = (400 - shared) / 2
        let a = (0..<(shared + own)).map { "w\($0)" }.joined(separator: " ")
        let b = ((0..<shared).map { "w\($0)" } + (0..<own).map { "v\($0)" }).joined(separator: " ")
        let truth = Double(shared) / Double(shared + 2 * own)
        var errors: [Double] = []
        for seed in 1...24 {
            var o = MinHashOptions()
            o.ngram = 1
            o.seed = UInt64(seed)
            let h = try MinHasher(o)
            errors.append(MinHasher.estimatedJaccard(h.signature(of: a), h.signature(of: b)) - truth)
        }
        let mean = errors.reduce(0, +) / Double(errors.count)
        let sd = (errors.map { $0 * $0 }.reduce(0, +) / Double(errors.count)).squareRoot()
        let theory = (truth * (1 - truth) / 128).squareRoot()
        #expect(abs(mean) < 0.025, "bias \(mean) at J = \(truth)")
        #expect(sd < 2 * theory + 0.01, "spread \(sd), theory \(theory)")
        #expect(errors.allSatisfy { abs($0) < 5 * theory + 0.02 })
    }

    /// The naive reference: word 5-gram sets of lowercased ASCII words, and their true Jaccard,
    /// against the estimate from signatures, on real text and edited copies of it.
    @Test func estimateMatchesNaiveShingleSetsOnRealText() throws {
        let docs = try DedupCorpus.english(lines: 200).filter { $0.split(separator: " ").count > 150 }.prefix(20)
        let h = try MinHasher(.defaults)
        var rng = MinHasher.SplitMix64(seed: 7)
        for text in docs {
            let ascii = String(text.unicodeScalars.filter(\.isASCII).map(Character.init))
            let words = Self.naiveWords(ascii)
            #expect(ExactKey.normalized(ascii) == words.joined())
            var edited = words
            for _ in 0..<(words.count / 12) { edited[Int.random(in: 0..<edited.count, using: &rng)] = "zzz\(Int.random(in: 0..<9999, using: &rng))" }
            let truth = Self.naiveJaccard(words, edited, n: 5)
            let est = MinHasher.estimatedJaccard(h.signature(of: ascii), h.signature(of: edited.joined(separator: " ")))
            #expect(abs(est - truth) < 0.16, "estimate \(est), true \(truth)")
        }
    }

    static func naiveWords(_ s: String) -> [String] {
        s.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init)
    }

    static func naiveJaccard(_ a: [String], _ b: [String], n: Int) -> Double {
        func grams(_ w: [String]) -> Set<String> {
            w.count < n ? [w.joined(separator: " ")] : Set((0...(w.count - n)).map { w[$0..<($0 + n)].joined(separator: " ") })
        }
        let x = grams(a)
        let y = grams(b)
        return Double(x.intersection(y).count) / Double(x.union(y).count)
    }

    // MARK: external sort and union-find

    @Test func externalSortEqualsInMemorySort() throws {
        let dir = Fixtures.tempDir("sort")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = MinHasher.SplitMix64(seed: 3)
        var records: [DedupRecord] = []
        for doc in 0..<20_000 {
            // Few distinct keys: many ties, broken by the document.
            records.append(DedupRecord(k0: UInt64.random(in: 0..<4, using: &rng), k1: UInt64.random(in: 0..<50, using: &rng) << 60, doc: UInt64(doc)))
        }
        records.shuffle(using: &rng)
        let sorter = ExternalSorter(directory: dir, prefix: "t", kind: 0, memoryBudget: 24 * 97)
        for r in records { try sorter.add(r) }
        let runs = try sorter.finish()
        #expect(runs.count == (20_000 + 96) / 97)
        let merger = try RunMerger(paths: runs, kind: 0, tempDirectory: dir, memoryBudget: 4096, fanIn: 7)
        #expect(merger.total == 20_000)
        var merged: [DedupRecord] = []
        while let r = try merger.next() { merged.append(r) }
        #expect(merged == records.sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasSuffix(".run") }.count == 1)
        _ = merger
    }

    @Test func mergerRemovesItsIntermediateRuns() throws {
        let dir = Fixtures.tempDir("sort")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sorter = ExternalSorter(directory: dir, prefix: "t", kind: 0, memoryBudget: 24)
        for d in 0..<50 { try sorter.add(DedupRecord(k0: UInt64(50 - d), k1: 0, doc: UInt64(d))) }
        let runs = try sorter.finish()
        do {
            let merger = try RunMerger(paths: runs, kind: 0, tempDirectory: dir, memoryBudget: 1024, fanIn: 4)
            var n = 0
            while try merger.next() != nil { n += 1 }
            #expect(n == 50)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == runs.map { ($0 as NSString).lastPathComponent }.sorted())
    }

    @Test func unionFindRootIsTheSmallestMember() {
        var rng = MinHasher.SplitMix64(seed: 11)
        let n = 2000
        var uf = UnionFind(count: n)
        var edges: [(Int, Int)] = []
        for _ in 0..<1500 {
            let a = Int.random(in: 0..<n, using: &rng)
            let b = Int.random(in: 0..<n, using: &rng)
            edges.append((a, b))
            uf.union(UInt32(a), UInt32(b))
        }
        // Naive reference: label components by repeated relaxation to the smallest label.
        var label = Array(0..<n)
        var changed = true
        while changed {
            changed = false
            for (a, b) in edges where label[a] != label[b] {
                let m = min(label[a], label[b])
                label[a] = m
                label[b] = m
                changed = true
            }
        }
        for x in 0..<n { #expect(Int(uf.find(UInt32(x))) == label[x]) }
    }

    // MARK: files

    @Test func corruptFilesAreRefused() throws {
        let dir = Fixtures.tempDir("corrupt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try SignatureWriter(folder: dir + "/task", options: .defaults, memoryBudget: 1 << 20)
        for t in ["one two three four five six", "seven eight nine ten eleven"] { try w.add(text: t) }
        // Unfinished: the header still says 0 documents.
        #expect(throws: DedupError.self) { _ = try DedupTaskFolder.open(dir + "/task") }
        let task = try w.finish()
        #expect(task.count == 2 && task.bandRunCount == 1 && task.exactRunCount == 1)
        let run = task.bandRuns[0]
        #expect(truncate(run, 32 + 24 * 32 - 1) == 0)
        #expect(throws: DedupError.self) { _ = try RunFile.Reader(path: run, kind: RunFile.bandKind, bufferRecords: 16) }
        #expect(throws: DedupError.self) { _ = try RunFile.Reader(path: task.exactRuns[0], kind: RunFile.bandKind, bufferRecords: 16) }
        Fixtures.write("not a removal file at all, just some words", to: dir + "/removed.bin")
        #expect(throws: DedupError.self) { _ = try RemovalFile.Reader(path: dir + "/removed.bin") }
    }

    @Test func tasksMustMatchTheOptionsAndTileTheDocuments() throws {
        let dir = Fixtures.tempDir("tasks")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var tasks: [DedupTaskFolder] = []
        for (name, base) in [("a", UInt64(0)), ("b", UInt64(1))] {
            let w = try SignatureWriter(folder: "\(dir)/\(name)", options: .defaults, baseDoc: base, memoryBudget: 1 << 16)
            try w.add(text: "alpha beta gamma delta epsilon zeta")
            try w.add(text: "alpha beta gamma delta epsilon zeta")
            tasks.append(try w.finish())
        }
        // b starts at 1 but a holds 0 and 1: overlap.
        #expect(throws: DedupError.self) {
            _ = try DedupCluster.run(tasks: tasks, options: .defaults, removalPath: dir + "/r.bin", tempDirectory: dir, memoryBudget: 1 << 16)
        }
        var other = MinHashOptions()
        other.seed = 2
        #expect(throws: DedupError.self) {
            _ = try DedupCluster.run(tasks: [tasks[0]], options: other, removalPath: dir + "/r.bin", tempDirectory: dir, memoryBudget: 1 << 16)
        }
        let stats = try DedupCluster.run(tasks: [tasks[0]], options: .defaults, removalPath: dir + "/r.bin", tempDirectory: dir, memoryBudget: 1 << 16)
        #expect(stats.exactDuplicates == 1)
        #expect(try RemovalFile.read(dir + "/r.bin") == [DedupRemoval(doc: 1, kept: 0, reason: .exact, jaccard: 1)])
    }

    // MARK: clustering

    @Test func firstInInputOrderIsKeptAndReasonsAreRight() throws {
        let base = "the cat sat on the mat while the dog slept by the warm fire in the old stone house near the river"
        let texts = [
            "an unrelated opening document about something else entirely, with enough words to shingle",
            base,
            base.uppercased(),  // exact duplicate of 1
            base.replacingOccurrences(of: "river", with: "rivers"),  // near duplicate of 1
            "a second unrelated document that talks about ships, harbours and the sea at night",
            base.replacingOccurrences(of: "river", with: "rivers").replacingOccurrences(of: "the", with: "THE"),  // exact dup of 3
        ]
        var o = MinHashOptions()
        o.jaccardThreshold = 0.7
        let dir = Fixtures.tempDir("order")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try DedupClusterer(options: o, memoryBudget: 1 << 20, tempDirectory: dir)
        for (i, t) in texts.enumerated() { try c.add(doc: UInt64(i), text: t) }
        let r = try c.finish()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "the clusterer leaves nothing behind")
        #expect(r.removals.map(\.doc) == [2, 3, 5])
        #expect(r.removals.map(\.kept) == [1, 1, 1])
        #expect(r.removals.map(\.reason) == [.exact, .near, .near])
        #expect(r.removals[0].jaccard == 1)
        #expect(r.removals[1].jaccard >= 0.7 && r.removals[1].jaccard < 1)
        #expect(r.stats.exactDuplicates == 1 && r.stats.nearDuplicates == 2)
        #expect(r.stats.clusters == 1 && r.stats.largestCluster == 4)
        #expect(r.stats.kept == 3)
    }

    @Test func outOfOrderDocumentNumbersAreRefused() throws {
        let dir = Fixtures.tempDir("order")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let c = try DedupClusterer(memoryBudget: 1 << 16, tempDirectory: dir)
            try c.add(doc: 0, text: "a")
            #expect(throws: DedupError.self) { try c.add(doc: 2, text: "b") }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "an unfinished clusterer removes its files")
    }

    /// A bucket holding thousands of documents costs a few comparisons per document, not one
    /// per pair: 3,000 sketches that agree on band 0 only (boilerplate), and are otherwise
    /// unrelated.
    @Test func aHugeBucketIsLinearNotQuadratic() throws {
        let dir = Fixtures.tempDir("bucket")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let o = MinHashOptions.defaults
        let w = try SignatureWriter(folder: dir + "/t", options: o, memoryBudget: 1 << 20)
        var rng = MinHasher.SplitMix64(seed: 5)
        let n = 3000
        for d in 0..<n {
            var sig = (0..<o.numPermutations).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
            for k in 0..<o.rows { sig[k] = UInt32(k) }
            try w.add(DedupSketch(exactKey: ExactKey(h1: UInt64(d), h2: 0), signature: sig, shingles: 10))
        }
        let task = try w.finish()
        let stats = try DedupCluster.run(tasks: [task], options: o, removalPath: dir + "/r.bin", tempDirectory: dir, memoryBudget: 1 << 20)
        #expect(stats.removed == 0)
        #expect(stats.candidatePairs <= UInt64(n * DedupCluster.representativesPerBucket))
        #expect(stats.candidatePairs >= UInt64(n - 1))
    }

    /// The same boilerplate with a different last word: one cluster of all of them, found
    /// with about one comparison per document.
    @Test func oneBigClusterOfNearCopies() throws {
        let page = try DedupCorpus.english(lines: 3)[0].split(separator: " ").prefix(300).joined(separator: " ")
        let dir = Fixtures.tempDir("big")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try DedupClusterer(memoryBudget: 1 << 20, tempDirectory: dir)
        for d in 0..<2000 { try c.add(doc: UInt64(d), text: page + " word\(d)") }
        let r = try c.finish()
        #expect(r.stats.nearDuplicates == 1999)
        #expect(r.stats.clusters == 1 && r.stats.largestCluster == 2000)
        #expect(r.removals.allSatisfy { $0.kept == 0 })
        #expect(r.stats.candidatePairs < 4000)
    }

    // MARK: determinism: budget, tasks, threads

    @Test func spillingGivesTheSameResult() throws {
        let texts = try DedupCorpus.mixed(english: 300, chinese: 600, copies: 150)
        let dir = Fixtures.tempDir("spill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 4 KiB for band records that take 900 × 16 × 24 bytes (~350 KiB, ~85 times the budget):
        // ~100 runs, so the merge also takes more than one pass.
        let w = try SignatureWriter(folder: dir + "/t", options: .defaults, memoryBudget: 4096)
        for t in texts { try w.add(text: t) }
        let task = try w.finish()
        #expect(task.bandRunCount > 64)
        let small = try DedupCluster.run(tasks: [task], options: .defaults, removalPath: dir + "/small.bin", tempDirectory: dir, memoryBudget: 4096)
        let big = try DedupClusterer(memoryBudget: 1 << 30, tempDirectory: dir)
        for (i, t) in texts.enumerated() { try big.add(doc: UInt64(i), text: t) }
        let r = try big.finish(removalPath: dir + "/big.bin")
        #expect(small == r.stats)
        #expect(r.stats.removed > 50)
        #expect(Fixtures.read(dir + "/small.bin") == Fixtures.read(dir + "/big.bin"))
    }

    @Test func oneShotAndThreeStepsAgreeByteForByte() throws {
        let texts = try DedupCorpus.mixed(english: 200, chinese: 400, copies: 120)
        let dir = Fixtures.tempDir("steps")
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let one = try DedupClusterer(memoryBudget: 1 << 20, tempDirectory: dir)
        for (i, t) in texts.enumerated() { try one.add(doc: UInt64(i), text: t) }
        let oneShot = try one.finish(removalPath: dir + "/one.bin")

        // Step 1: two tasks, with their own budgets, each numbering from its base.
        let split = texts.count / 3
        let hasher = try MinHasher(.defaults)
        let sketches = try Self.parallelSketches(Array(texts[split...]), hasher: hasher)
        let t0 = try SignatureWriter(folder: dir + "/task0", options: .defaults, baseDoc: 0, memoryBudget: 1 << 12)
        for t in texts[..<split] { try t0.add(text: t) }
        let t1 = try SignatureWriter(folder: dir + "/task1", options: .defaults, baseDoc: UInt64(split), memoryBudget: 1 << 24)
        for s in sketches { try t1.add(s) }
        _ = try t1.finish()
        _ = try t0.finish()
        // Step 2: one cluster step over all folders, in any order.
        let stats = try DedupCluster.run(folders: [dir + "/task1", dir + "/task0"], options: .defaults,
                                         removalPath: dir + "/three.bin", tempDirectory: dir, memoryBudget: 1 << 16)
        #expect(stats == oneShot.stats)
        #expect(Fixtures.read(dir + "/one.bin") == Fixtures.read(dir + "/three.bin"))
        // Step 3: each task reads its own range.
        let reader = try RemovalFile.Reader(path: dir + "/three.bin")
        try reader.seek(toDoc: UInt64(split))
        var second: [DedupRemoval] = []
        while let r = try reader.next() { second.append(r) }
        #expect(second == oneShot.removals.filter { $0.doc >= UInt64(split) })
        try reader.seek(toDoc: 0)
        var first: [DedupRemoval] = []
        while let r = try reader.next(), r.doc < UInt64(split) { first.append(r) }
        #expect(first == oneShot.removals.filter { $0.doc < UInt64(split) })
        for f in [dir + "/task0", dir + "/task1"] { try DedupTaskFolder.open(f).remove() }
        #expect(!FileManager.default.fileExists(atPath: dir + "/task0"))
    }

    /// Sketches computed on several threads equal the ones computed in order.
    static func parallelSketches(_ texts: [String], hasher: MinHasher) throws -> [DedupSketch] {
        let threads = 4
        let box = SketchBox(count: texts.count)
        DispatchQueue.concurrentPerform(iterations: threads) { k in
            let ws = MinHasher.Workspace()
            for i in stride(from: k, to: texts.count, by: threads) {
                box.set(i, hasher.sketch(of: texts[i], workspace: ws))
            }
        }
        let out = box.values.map { $0! }
        let ws = MinHasher.Workspace()
        for (i, t) in texts.enumerated() where i % 17 == 0 {
            #expect(out[i] == hasher.sketch(of: t, workspace: ws))
        }
        return out
    }

    final class SketchBox: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var values: [DedupSketch?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ s: DedupSketch) { lock.lock(); values[i] = s; lock.unlock() }
    }

    // MARK: planted duplicates

    /// A few thousand real documents (English and Chinese) with planted near duplicates (5 % of
    /// the words or characters replaced; paragraphs or sentences reordered; whitespace changed)
    /// and distinct documents that share a header and footer. Precision and recall are counted
    /// over the planted groups.
    ///
    /// Replacing 5 % of the words changes about 1 − 0.95⁵ ≈ 23 % of the word 5-grams, so such a
    /// copy has Jaccard similarity about 0.63 with its original: the defaults (32 bands × 4 rows,
    /// implied threshold 0.42, confirmation at 0.5) are sized for that level. Datatrove's banding
    /// is evaluated beside them for the record.
    @Test func plantedDuplicatesAreFound() throws {
        let planted = try DedupCorpus.planted(options: .defaults)
        let score = try Self.evaluate(planted, options: .defaults)
        print("dedup planted (\(planted.texts.count) docs, \(planted.copies) planted copies, defaults \(MinHashOptions.defaults.bands)×\(MinHashOptions.defaults.rows), J ≥ \(MinHashOptions.defaults.jaccardThreshold)): precision \(score.precision), recall \(score.recall); by kind \(score.recallByKind)")
        #expect(score.precision >= 0.95)
        #expect(score.recall >= 0.95)
        #expect(score.wrongReasons == 0)
        // Datatrove's banding (14 × 8 of 112 slots, confirmation at 0.8), for comparison only.
        var datatrove = MinHashOptions()
        datatrove.numPermutations = 112
        datatrove.bands = 14
        datatrove.rows = 8
        datatrove.jaccardThreshold = 0.8
        let dt = try Self.evaluate(try DedupCorpus.planted(options: datatrove), options: datatrove)
        print("dedup planted, datatrove-like 14×8 at J ≥ 0.8: precision \(dt.precision), recall \(dt.recall); by kind \(dt.recallByKind)")
    }

    struct Score {
        var precision: Double
        var recall: Double
        var recallByKind: [String: Double]
        var wrongReasons: Int
    }

    /// Precision: removals whose kept document is of the same planted group. Recall: planted
    /// copies that end in the same cluster as their original.
    static func evaluate(_ p: DedupCorpus.Planted, options: MinHashOptions) throws -> Score {
        let dir = Fixtures.tempDir("planted")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try DedupClusterer(options: options, memoryBudget: 1 << 22, tempDirectory: dir)
        for (i, t) in p.texts.enumerated() { try c.add(doc: UInt64(i), text: t) }
        let r = try c.finish()
        var cluster = Array(0..<p.texts.count)
        var correct = 0
        var wrongReasons = 0
        for x in r.removals {
            cluster[Int(x.doc)] = Int(x.kept)
            let g = p.group[Int(x.doc)]
            if g >= 0 && g == p.group[Int(x.kept)] { correct += 1 }
            // A whitespace copy kept beside its original is an exact duplicate.
            if p.group[Int(x.doc)] >= 0, p.original[Int(x.doc)] == Int(x.kept) || p.original[Int(x.kept)] == Int(x.doc) {
                if (p.kind[Int(x.doc)] == "whitespace" || p.kind[Int(x.kept)] == "whitespace") && x.reason != .exact { wrongReasons += 1 }
            }
        }
        var found: [String: Int] = [:]
        var total: [String: Int] = [:]
        for i in p.texts.indices where p.group[i] >= 0 && p.kind[i] != "original" {
            let key = (p.language[i] ? "zh " : "en ") + p.kind[i]
            total[key, default: 0] += 1
            if cluster[i] == cluster[p.original[i]] { found[key, default: 0] += 1 }
        }
        var byKind: [String: Double] = [:]
        for (k, n) in total { byKind[k] = Double(found[k, default: 0]) / Double(n) }
        return Score(precision: r.removals.isEmpty ? 1 : Double(correct) / Double(r.removals.count),
                     recall: Double(found.values.reduce(0, +)) / Double(total.values.reduce(0, +)),
                     recallByKind: byKind, wrongReasons: wrongReasons)
    }
}

/// Real documents from shared/corpora, and planted duplicates made from them.
enum DedupCorpus {
    /// The texts of the first `lines` records of a corpus file.
    static func texts(_ file: String, lines: Int) throws -> [String] {
        let r = try Fixtures.run("sh", ["-c", "zstd -dc '\(Fixtures.corpora)/\(file)' | head -n \(lines)"])
        var out: [String] = []
        for line in r.stdout.utf8.split(separator: 0x0A) where !line.isEmpty {
            out.append(try Document.parse(Array(line)).text)
        }
        try #require(r.status == 0 && !out.isEmpty, "no records read from \(Fixtures.corpora)/\(file): \(r.stderr)")
        return out
    }

    /// English documents cut to their first lines holding at least `words` words.
    static func english(lines: Int, words: Int = 300) throws -> [String] {
        try texts("en-docs.jsonl.zst", lines: lines).map { text in
            var kept: [Substring] = []
            var count = 0
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) where count < words {
                kept.append(line)
                count += line.split(separator: " ").count
            }
            return kept.joined(separator: "\n")
        }
    }

    /// Chinese documents of at least 100 characters, without exact repeats (the reviews hold
    /// many), cut to 1,000 characters (shorter cuts of the Linux documents are mostly their
    /// shared translation preamble).
    static func chinese(count: Int) throws -> [String] {
        var seen = Set<ExactKey>()
        var out: [String] = []
        for t in try texts("zh-docs.jsonl.zst", lines: 12 * count) where t.count >= 100 {
            let cut = String(t.prefix(1000))
            if seen.insert(ExactKey(cut)).inserted { out.append(cut) }
            if out.count == count { break }
        }
        return out
    }

    /// Documents and `copies` edited copies, in one list (for the determinism tests).
    static func mixed(english: Int, chinese: Int, copies: Int) throws -> [String] {
        var rng = MinHasher.SplitMix64(seed: 99)
        var texts = try self.english(lines: english) + self.chinese(count: chinese)
        let pool = texts
        for i in 0..<copies {
            let original = pool[(i * 7919) % pool.count]
            texts.append(i % 2 == 0 ? reorder(original, using: &rng) : replace(original, fraction: 0.03, pool: pool, using: &rng))
        }
        texts.shuffle(using: &rng)
        return texts
    }

    struct Planted {
        var texts: [String] = []
        /// Planted group of each document, -1 for documents planted in no group.
        var group: [Int] = []
        /// "original", "replaced", "reordered", "whitespace", "boilerplate" or "plain".
        var kind: [String] = []
        /// The original of each planted copy (itself for an original), -1 outside groups.
        var original: [Int] = []
        /// True for Chinese documents.
        var language: [Bool] = []
        var copies: Int = 0
    }

    static let englishHeader = "Home | Library | Commentaries | Contact us\nWelcome to the Example Community Reading Room, your source for classic texts, commentaries and technical documentation since 1998. Sign in to keep your reading list and notes.\n"
    static let englishFooter = "\nCopyright 2024 Example Community Reading Room. All rights reserved. This page was generated automatically from our archive; please report errors to the webmaster. Share this page by email or on social media."
    static let chineseHeader = "首页｜图书馆｜用户评论｜联系我们。欢迎访问示例社区阅读网，本站提供酒店与购物点评。\n"
    static let chineseFooter = "\n版权所有，示例社区阅读网保留一切权利。本页面由系统自动生成，如有错误请联系网站管理员。"

    /// The evaluation corpus. Natural duplicates in the sample (the reviews repeat each other)
    /// would count against precision although they are real, so documents that `options` puts
    /// into any cluster of the sample alone are set aside first.
    static func planted(options: MinHashOptions) throws -> Planted {
        var rng = MinHasher.SplitMix64(seed: 2024)
        let english = try self.english(lines: 700).filter { $0.split(separator: " ").count >= 120 }
        let chinese = try self.chinese(count: 1100)
        let base = english + chinese
        let dir = Fixtures.tempDir("planted")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = try DedupClusterer(options: options, memoryBudget: 1 << 22, tempDirectory: dir)
        for (i, t) in base.enumerated() { try c.add(doc: UInt64(i), text: t) }
        var clustered = Set<Int>()
        for r in try c.finish().removals {
            clustered.insert(Int(r.doc))
            clustered.insert(Int(r.kept))
        }
        let en = english.indices.filter { !clustered.contains($0) }.map { base[$0] }
        let zh = chinese.indices.filter { !clustered.contains(english.count + $0) }.map { base[english.count + $0] }

        var docs: [(text: String, group: Int, kind: String, zh: Bool)] = []
        var groups = 0
        func plant(_ originals: ArraySlice<String>, pool: [String], zh: Bool) {
            for o in originals {
                docs.append((o, groups, "original", zh))
                docs.append((replace(o, fraction: 0.05, pool: pool, using: &rng), groups, "replaced", zh))
                docs.append((reorder(o, using: &rng), groups, "reordered", zh))
                docs.append((respace(o, using: &rng), groups, "whitespace", zh))
                groups += 1
            }
        }
        // English: 150 planted groups, 150 boilerplate pages, the rest plain.
        plant(en[0..<150], pool: en, zh: false)
        for body in en[150..<300] { docs.append((englishHeader + body + englishFooter, -1, "boilerplate", false)) }
        for t in en[300...] { docs.append((t, -1, "plain", false)) }
        // Chinese: 200 planted groups, 200 boilerplate pages, the rest plain.
        plant(zh[0..<200], pool: zh, zh: true)
        for body in zh[200..<400] { docs.append((chineseHeader + body + chineseFooter, -1, "boilerplate", true)) }
        for t in zh[400...] { docs.append((t, -1, "plain", true)) }
        docs.shuffle(using: &rng)

        var p = Planted()
        var originalOfGroup = Array(repeating: -1, count: groups)
        for (i, d) in docs.enumerated() where d.kind == "original" { originalOfGroup[d.group] = i }
        for d in docs {
            p.texts.append(d.text)
            p.group.append(d.group)
            p.kind.append(d.kind)
            p.language.append(d.zh)
            p.original.append(d.group >= 0 ? originalOfGroup[d.group] : -1)
            if d.group >= 0 && d.kind != "original" { p.copies += 1 }
        }
        return p
    }

    static func isHan(_ c: Character) -> Bool {
        c.unicodeScalars.first.map { (0x4E00...0x9FFF).contains($0.value) } ?? false
    }

    /// Replaces `fraction` of the words (English) or Han characters (Chinese) with ones drawn
    /// from other documents.
    static func replace(_ text: String, fraction: Double, pool: [String], using rng: inout MinHasher.SplitMix64) -> String {
        if text.contains(where: isHan) {
            var chars = Array(text)
            let han = chars.indices.filter { isHan(chars[$0]) }
            let donor = Array(pool[Int.random(in: 0..<pool.count, using: &rng)].filter(isHan))
            for i in han.shuffled(using: &rng).prefix(max(1, Int((fraction * Double(han.count)).rounded()))) {
                chars[i] = donor.randomElement(using: &rng) ?? "字"
            }
            return String(chars)
        }
        var words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        let donor = pool[Int.random(in: 0..<pool.count, using: &rng)].split(separator: " ").map(String.init)
        for i in words.indices.shuffled(using: &rng).prefix(max(1, Int((fraction * Double(words.count)).rounded()))) {
            words[i] = donor.randomElement(using: &rng) ?? "word"
        }
        return words.joined(separator: " ")
    }

    /// Shuffles the paragraphs of English text (blank-line separated; blocks of lines when
    /// there are fewer than three) or blocks of sentences of Chinese text: at most six units,
    /// as when a page's sections are moved about. A text of one unit has its halves swapped.
    static func reorder(_ text: String, using rng: inout MinHasher.SplitMix64) -> String {
        var units: [String]
        let joiner: String
        if text.contains(where: isHan) {
            var sentences: [String] = []
            var current = ""
            for ch in text {
                current.append(ch)
                if "。！？!?".contains(ch) {
                    sentences.append(current)
                    current = ""
                }
            }
            if !current.isEmpty { sentences.append(current) }
            units = blocks(sentences, count: 4, joiner: "")
            joiner = ""
        } else {
            let paragraphs = text.split(separator: "\n\n").map(String.init)
            units = paragraphs.count >= 3 ? blocks(paragraphs, count: 6, joiner: "\n\n")
                : blocks(text.split(separator: "\n").map(String.init), count: 4, joiner: "\n")
            joiner = "\n\n"
        }
        if units.count < 2 {
            let chars = Array(text)
            return String(chars[(chars.count / 2)...]) + " " + String(chars[..<(chars.count / 2)])
        }
        let original = units
        while units == original { units.shuffle(using: &rng) }
        return units.joined(separator: joiner)
    }

    /// `items` joined into at most `count` consecutive blocks of about equal size.
    static func blocks(_ items: [String], count: Int, joiner: String) -> [String] {
        guard items.count > count else { return items }
        let size = (items.count + count - 1) / count
        return stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)].joined(separator: joiner) }
    }

    /// The same text with other whitespace: an exact duplicate after normalization.
    static func respace(_ text: String, using rng: inout MinHasher.SplitMix64) -> String {
        var out = "\n  "
        for ch in text {
            if ch == " " {
                out += [" ", "  ", "\t", " \n"].randomElement(using: &rng)!
            } else if ch == "\n" {
                out += "\n\n"
            } else {
                out.append(ch)
                if isHan(ch) && Int.random(in: 0..<8, using: &rng) == 0 { out += " " }
            }
        }
        return out + " \n"
    }
}
