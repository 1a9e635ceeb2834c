import DataPrep
import Foundation
import Testing
import TestSupport

/// Inputs built to exhaust memory or time: each is refused or handled within the bound its test
/// states (peak RSS of the `prep` child, and wall time of a debug build on two shared cores).
@Suite(.serialized) struct ResourceLimitTests {
    static let MiB = 1 << 20

    /// Writes `count` copies of `chunk` to `path`, streamed (never the whole file in memory).
    static func writeRepeated(_ chunk: [UInt8], count: Int, to path: String, tail: [UInt8] = []) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let data = Data(chunk)
        for _ in 0..<count { try h.write(contentsOf: data) }
        try h.write(contentsOf: Data(tail))
        try h.close()
    }

    static func prep(_ args: [String]) throws -> ChildProcess.Measured {
        let m = try ChildProcess.measure(Fixtures.binDir + "/prep", args)
        print("prep \(args.first ?? ""): exit \(m.status), peak RSS \(m.maxRSS / MiB) MiB, \(String(format: "%.1f", m.seconds)) s")
        return m
    }

    /// 10 GiB of text in a 10 MB .gz (160 gzip members of 64 MiB of "a" each). With the default
    /// limits the ratio check stops it after 8 MiB; with the ratio check off, the document size
    /// limit stops it after 256 MiB. Bound: under 1 GiB of RSS and 120 s each, and the document
    /// after it is still read.
    @Test func aCompressionBombStopsAtTheLimits() throws {
        let dir = Fixtures.tempDir("bomb")
        let member = try Fixtures.gzip([UInt8](repeating: UInt8(ascii: "a"), count: 64 * Self.MiB))
        try Self.writeRepeated(member, count: 160, to: dir + "/in/bomb.txt.gz")
        Fixtures.write("The document after the bomb.\n", to: dir + "/in/next.txt")
        print("bomb: \(member.count * 160) bytes of gzip for 10 GiB of text")

        let ratio = try Self.prep(["ingest", dir + "/in", "--out", dir + "/o1", "--quiet"])
        #expect(ratio.status == 3, "\(ratio.stderr)")
        let m1 = try IngestManifest.read(dir + "/o1/manifest.json")
        #expect(m1.counts.errors["ratio_limit"] == 1 && m1.issues.first?.input.hasSuffix("bomb.txt.gz") == true, "\(m1.issues)")
        #expect(try Fixtures.documents(in: dir + "/o1").map(\.text) == ["The document after the bomb.\n"])
        #expect(ratio.maxRSS < 1 << 30 && ratio.seconds < 120)

        let size = try Self.prep(["ingest", dir + "/in", "--out", dir + "/o2", "--max-ratio", "1000000", "--quiet"])
        #expect(size.status == 0 || size.status == 3, "\(size.stderr)")
        let m2 = try IngestManifest.read(dir + "/o2/manifest.json")
        #expect(m2.counts.skipped["document_too_large"] == 1 || m2.counts.errors.values.reduce(0, +) == 1, "\(m2.counts)")
        print("bomb, --max-ratio 1000000: skipped \(m2.counts.skipped), errors \(m2.counts.errors) \(m2.issues.first?.message ?? "")")
        #expect(try Fixtures.documents(in: dir + "/o2").map(\.text) == ["The document after the bomb.\n"])
        #expect(size.maxRSS < 1 << 30 && size.seconds < 120)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Not a bomb: a 10 MB log in a .gz under 256 KiB (a true ratio near 50:1, under the default
    /// 200:1) is read whole. The ratio used to be counted from the reader's read-ahead position,
    /// which made any such file look like a bomb.
    @Test func aSmallHighlyCompressedFileIsNotABomb() throws {
        let dir = Fixtures.tempDir("notbomb")
        var text = ""
        var x: UInt32 = 7
        for i in 0..<200_000 {
            x = x &* 1_103_515_245 &+ 12345
            text += "2026-11-29 12:00:\(i % 60) INFO served status=200 bytes=\((x >> 16) % 2)\n"
        }
        let gz = try Fixtures.gzip(Array(text.utf8))
        #expect(gz.count < 256 << 10 && text.utf8.count > 8 << 20 && text.utf8.count < 200 * gz.count, "\(gz.count) bytes")
        Fixtures.write(gz, to: dir + "/in/log.txt.gz")
        let r = try Self.prep(["ingest", dir + "/in", "--out", dir + "/out", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Fixtures.documents(in: dir + "/out").map(\.text) == [text])
    }

    /// A single line of 1 GiB, as plain text and as a JSONL record: dropped with a reason (the
    /// 64 MiB document limit), never held whole. Bound: under 1 GiB of RSS and 180 s each.
    @Test func aOneGigabyteLineIsDroppedWithinBoundedMemory() throws {
        let dir = Fixtures.tempDir("longline")
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 16 * Self.MiB)
        try Self.writeRepeated(chunk, count: 64, to: dir + "/txt/line.txt")
        Fixtures.write("After the long line.\n", to: dir + "/txt/next.txt")
        // The JSONL record: {"text":"aaaa…"} on one line of 1 GiB, then a small record.
        Fixtures.write("{\"text\":\"", to: dir + "/json/a.jsonl")
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/json/a.jsonl"))
        try h.seekToEnd()
        for _ in 0..<64 { try h.write(contentsOf: Data(chunk)) }
        try h.write(contentsOf: Data("\"}\n{\"text\":\"After the long record.\"}\n".utf8))
        try h.close()

        for (input, after) in [("txt", "After the long line.\n"), ("json", "After the long record.")] {
            let r = try Self.prep(["ingest", dir + "/" + input, "--out", dir + "/out-" + input, "--quiet"])
            #expect(r.status == 0 || r.status == 3, "\(input): \(r.stderr)")
            let m = try IngestManifest.read(dir + "/out-\(input)/manifest.json")
            let dropped = m.counts.skipped.values.reduce(0, +) + m.counts.errors.values.reduce(0, +)
            #expect(dropped == 1, "\(input): \(m.counts)")
            #expect(try Fixtures.documents(in: dir + "/out-" + input).map(\.text) == [after])
            #expect(r.maxRSS < 1 << 30 && r.seconds < 180, "\(input): \(r.maxRSS / Self.MiB) MiB, \(r.seconds) s")
            print("1 GiB line (\(input)): \(m.counts.skipped) \(m.counts.errors)")
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A JSONL record nested 100,000 deep: an `invalid_json` error naming the input and line (no
    /// stack overflow), the next record kept. A tokenizer.json nested as deep: refused, naming it.
    @Test func deeplyNestedJSONIsRefusedNotACrash() throws {
        let dir = Fixtures.tempDir("deepjson")
        let deep = "{\"text\":" + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "}"
        Fixtures.write(deep + "\n{\"text\":\"A flat record.\"}\n", to: dir + "/in/deep.jsonl")
        let r = try Self.prep(["ingest", dir + "/in", "--out", dir + "/out", "--quiet"])
        #expect(r.status == 3, "\(r.stderr)")
        let m = try IngestManifest.read(dir + "/out/manifest.json")
        #expect(m.issues.count == 1 && m.issues.first?.line == 1 && m.issues.first?.message.contains("nesting") == true, "\(m.issues)")
        #expect(try Fixtures.documents(in: dir + "/out").map(\.text) == ["A flat record."])
        #expect(r.maxRSS < 512 * Self.MiB && r.seconds < 30)

        let nested = "{\"model\":" + String(repeating: "{\"a\":", count: 100_000) + "1" + String(repeating: "}", count: 100_000) + "}"
        Fixtures.write(nested, to: dir + "/tok/tokenizer.json")
        let t = try Self.prep(["encode", "--tokenizer", dir + "/tok", "hello"])
        // 2: prep's commands report an unreadable --tokenizer folder as a usage error.
        #expect(t.status == 2 && t.stderr.contains("tokenizer.json") && t.stderr.contains("nested too deeply"), "\(t.status): \(t.stderr)")
        #expect(t.maxRSS < 512 * Self.MiB && t.seconds < 30)
    }

    /// GPT-2's byte-to-character map (every byte a printable character), for writing vocab.json.
    static let byteCharacters: [String] = {
        let printable = Array(33...126) + Array(161...172) + Array(174...255)
        var map = [Int: Int]()
        for b in printable { map[b] = b }
        var n = 0
        for b in 0..<256 where map[b] == nil {
            map[b] = 256 + n
            n += 1
        }
        return (0..<256).map { String(UnicodeScalar(UInt32(map[$0]!))!) }
    }()

    /// A vocab.json + merges.txt with a million merges (every pair of bytes, then pairs with a
    /// third byte): it loads and encodes within 300 s and 1 GiB of RSS (debug build; measured 158 s
    /// and 410 MiB on two shared cores). The normal suite loads a tenth of it (within 60 s and
    /// 512 MiB); KILN_FULL_LIMITS=1 loads the million.
    @Test func aTokenizerWithAMillionMergesLoadsInBoundedTime() throws {
        let full = ProcessInfo.processInfo.environment["KILN_FULL_LIMITS"] == "1"
        let dir = Fixtures.tempDir("bigtok")
        let c = Self.byteCharacters.map { Array($0.utf8) }
        let total = full ? 1_000_000 : 100_000
        // vocab.json and merges.txt as bytes: String building in a debug build took longer than
        // loading the files.
        var merges = Array("#version: 0.2\n".utf8)
        var vocab = Array("{".utf8)
        var id = 0
        func add(_ token: [UInt8]) {
            if id > 0 { vocab.append(UInt8(ascii: ",")) }
            vocab.append(UInt8(ascii: "\""))
            for b in token {
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { vocab.append(UInt8(ascii: "\\")) }
                vocab.append(b)
            }
            vocab += Array("\":\(id)".utf8)
            id += 1
        }
        for b in 0..<256 { add(c[b]) }
        for a in 0..<256 {
            for b in 0..<256 {
                merges += c[a] + [0x20] + c[b] + [0x0A]
                add(c[a] + c[b])
            }
        }
        outer: for a in 1..<256 {
            for b in 0..<256 {
                for x in 0..<256 {
                    if id - 256 >= total { break outer }
                    merges += c[a] + c[b] + [0x20] + c[x] + [0x0A]
                    add(c[a] + c[b] + c[x])
                }
            }
        }
        vocab.append(UInt8(ascii: "}"))
        Fixtures.write(vocab, to: dir + "/tok/vocab.json")
        Fixtures.write(merges, to: dir + "/tok/merges.txt")
        // Bytes 1, 2, 3: one pre-token, merged by the triple (1, 2) + 3, whose id is
        // 256 + 65536 + (2·256 + 3) = 66307 (the triples start with byte 1).
        let r = try Self.prep(["encode", "--tokenizer", dir + "/tok", "--json", "\u{01}\u{02}\u{03}"])
        print("\(total) merges: exit \(r.status): \(r.stdout.prefix(80)) \(r.stderr.prefix(300))")
        try? FileManager.default.removeItem(atPath: dir)
        if r.status == 0 {
            #expect(r.stdout.filter { !$0.isWhitespace } == "[66307]", "\(r.stdout)")
        } else {
            #expect(r.status == 2 && r.stderr.contains(dir + "/tok"), "\(r.stderr)")
        }
        #expect(r.maxRSS < (full ? 1 << 30 : 512 << 20) && r.seconds < (full ? 300 : 60), "\(r.maxRSS / Self.MiB) MiB, \(r.seconds) s")
    }
}
