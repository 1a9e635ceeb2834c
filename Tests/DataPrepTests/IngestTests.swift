import ArchiveIO
@testable import DataPrep
import Foundation
import Testing
import TestSupport

/// Runs the library on the files of `dir/in` and returns the manifest and the documents.
func ingest(_ inputs: [String], out: String, options: IngestOptions = IngestOptions(),
            layout: RunLayout = RunLayout(threads: 1), force: Bool = false) throws -> (IngestManifest, [Document]) {
    let all = try Ingest.enumerateInputs(inputs)
    let mine = Ingest.split(all, taskIndex: layout.taskIndex, taskCount: layout.taskCount)
    let result = try Ingest.run(inputs: mine, outDir: out, options: options, layout: layout, force: force)
    return (result.manifest, try Fixtures.documents(in: out))
}

let english = (1...12).map { "Paragraph \($0) of plain English text that is long enough to be a document, with a full stop." }
let chinese = "中文文本也是一等公民。这是第二句话！"

@Suite struct IngestFormatTests {
    let dir = Fixtures.tempDir("ingest")

    func source(_ files: [String: String]) -> String {
        let src = dir + "/src"
        for (name, text) in files { Fixtures.write(text, to: src + "/" + name) }
        return src
    }

    @Test(arguments: [
        ("tar", "ustar", nil), ("tar.gz", "ustar", "-z"), ("tar.bz2", "gnutar", "-j"), ("tar.xz", "pax", "-J"),
        ("tar.zst", "ustar", "--zstd"), ("zip", "zip", nil), ("7z", "7zip", nil), ("cpio", "newc", nil),
    ] as [(String, String, String?)])
    func archives(_ ext: String, _ format: String, _ filter: String?) throws {
        let src = source(["a.txt": english[0], "sub/b.md": "# Title\n\n" + english[1], "c.html": "<html><body><p>\(chinese)</p><script>var x;</script></body></html>",
                          "d.jsonl": #"{"text":"from jsonl","id":"j1","lang":"en"}"# + "\n"])
        let archive = dir + "/in/sample.\(ext)"
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        try Fixtures.bsdtar(archive, format: format, filter: filter, from: src, members: ["a.txt", "sub/b.md", "c.html", "d.jsonl"])
        let (m, docs) = try ingest([archive], out: dir + "/out-\(ext)")
        #expect(m.counts.errors.isEmpty, "\(m.issues)")
        let byMember = Dictionary(uniqueKeysWithValues: docs.map { ($0.source.member ?? "", $0) })
        #expect(byMember["a.txt"]?.text == english[0])
        #expect(byMember["sub/b.md"]?.metadata.first?.value == .string("markdown"))
        #expect(byMember["c.html"]?.text == chinese)
        #expect(byMember["d.jsonl"]?.text == "from jsonl")
        #expect(byMember["d.jsonl"]?.id == "j1")
        #expect(byMember["d.jsonl"]?.metadata == [JSONMember("lang", .string("en"))])
        #expect(docs.allSatisfy { $0.source.input == archive })
    }

    @Test func zipInsideTarIsReadTwoLevelsDeep() throws {
        let src = source(["inner/x.txt": english[2], "inner/y.txt": english[3]])
        try Fixtures.bsdtar(dir + "/src/inner.zip", format: "zip", from: src + "/inner", members: ["x.txt", "y.txt"])
        Fixtures.write(english[4], to: src + "/top.txt")
        // Three levels: a tar.gz inside the zip inside the outer tar is skipped with a reason.
        try Fixtures.bsdtar(dir + "/src/deep.tar.gz", format: "ustar", filter: "-z", from: src + "/inner", members: ["x.txt"])
        try Fixtures.bsdtar(dir + "/src/mid.zip", format: "zip", from: dir + "/src", members: ["deep.tar.gz"])
        try Fixtures.bsdtar(dir + "/outer.tar", format: "ustar", from: src, members: ["inner.zip", "top.txt", "mid.zip"])
        let (m, docs) = try ingest([dir + "/outer.tar"], out: dir + "/out")
        #expect(Set(docs.compactMap(\.source.member)) == ["inner.zip!/x.txt", "inner.zip!/y.txt", "top.txt"])
        #expect(m.counts.skipped["nested_archive_too_deep"] == 1)
    }

    @Test func gzipJSONLWithSeveralMembersAndZstd() throws {
        let lines = (0..<10).map { #"{"id":"r\#($0)","text":"record \#($0)","url":"https://e.org/\#($0)"}"# + "\n" }
        let a = try Fixtures.gzip(Array(lines[0..<5].joined().utf8)) + Fixtures.gzip(Array(lines[5...].joined().utf8))
        Fixtures.write(a, to: dir + "/in/r.jsonl.gz")
        Fixtures.write(try Fixtures.zstd(Array(lines.joined().utf8)), to: dir + "/in/s.jsonl.zst")
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out")
        #expect(m.counts.documents == 20)
        #expect(docs.map(\.id) == (0..<10).map { "r\($0)" } + (0..<10).map { "r\($0)" })
        #expect(docs[3].metadata == [JSONMember("url", .string("https://e.org/3"))])
        #expect(docs[3].source.record == "line:4")
    }

    /// xz and bzip2 single files go through libarchive's raw format; UTF-16 text by its BOM.
    @Test func xzBzip2AndUTF16Files() throws {
        Fixtures.write(english[0], to: dir + "/in/a.txt")
        Fixtures.write(#"{"text":"bz2 record"}"# + "\n", to: dir + "/in/b.jsonl")
        try Fixtures.run("xz", [dir + "/in/a.txt"])
        try Fixtures.run("bzip2", [dir + "/in/b.jsonl"])
        let utf16 = try #require(Charset.convert(Array(chinese.utf8), from: "UTF-8", to: "UTF-16LE"))
        Fixtures.write([0xFF, 0xFE] + utf16, to: dir + "/in/c.txt")
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out")
        #expect(m.inputs.map { ($0.path as NSString).lastPathComponent } == ["a.txt.xz", "b.jsonl.bz2", "c.txt"])
        #expect(docs.map(\.text) == [english[0], "bz2 record", chinese])
        #expect(m.counts.encodings == ["utf-16le": 1])
        // A truncated xz file is an error, not a crash, and not a silent empty document.
        let xz = Fixtures.read(dir + "/in/a.txt.xz")
        Fixtures.write(Array(xz[0..<(xz.count / 2)]), to: dir + "/cut/a.txt.xz")
        let (m2, _) = try ingest([dir + "/cut"], out: dir + "/out2")
        #expect(m2.counts.errorCount == 1)
    }

    @Test func jsonlErrorsAreCountedWithLineNumbersAndTheRestIsKept() throws {
        let text = #"{"text":"one"}"# + "\n" + #"{"text": broken"# + "\n" + #"{"body":"no text field"}"# + "\n"
            + "[1,2]\n\n" + #"{"text":"five","metadata":{"lang":"en"},"score":0.5}"# + "\n"
        Fixtures.write(text, to: dir + "/in/mixed.jsonl")
        let (m, docs) = try ingest([dir + "/in/mixed.jsonl"], out: dir + "/out")
        #expect(docs.map(\.text) == ["one", "five"])
        #expect(docs[1].metadata == [JSONMember("lang", .string("en")), JSONMember("score", .number("0.5"))])
        #expect(m.counts.errors == ["invalid_json": 1, "invalid_record": 2])
        #expect(m.issues.map(\.line) == [2, 3, 4])
        #expect(m.issues[0].offset == Int64(#"{"text":"one"}"#.utf8.count + 1 + 9))
    }

    @Test func textFieldAndIDFieldOptions() throws {
        Fixtures.write(#"{"content":"custom","uid":7}"# + "\n", to: dir + "/in/c.jsonl")
        var o = IngestOptions()
        o.textField = "content"
        o.idField = "uid"
        let (_, docs) = try ingest([dir + "/in"], out: dir + "/out", options: o)
        #expect(docs.map(\.text) == ["custom"])
        #expect(docs.map(\.id) == ["7"])
    }

    @Test func warcAndWet() throws {
        let body = "<html><head><title>T</title><style>p{}</style></head><body><p>Web page text.</p></body></html>"
        let warc = warcRecord(type: "warcinfo", id: "<urn:uuid:0>", contentType: "application/warc-fields", block: Array("software: test\r\n".utf8))
            + warcRecord(type: "request", id: "<urn:uuid:1>", uri: "https://e.org/", contentType: "application/http; msgtype=request", block: Array("GET / HTTP/1.1\r\n\r\n".utf8))
            + warcRecord(type: "response", id: "<urn:uuid:2>", uri: "https://e.org/", contentType: "application/http; msgtype=response", block: httpResponse(body))
            + warcRecord(type: "response", id: "<urn:uuid:3>", uri: "https://e.org/img.png", contentType: "application/http; msgtype=response",
                         block: httpResponse("\u{89}PNG....", contentType: "image/png"))
            + warcRecord(type: "conversion", id: "<urn:uuid:4>", uri: "https://e.org/wet", contentType: "text/plain", block: Array("Title\nExtracted text.\n".utf8))
        // One gzip member per record, as Common Crawl writes them.
        var gz: [UInt8] = []
        var k = 0
        while k < warc.count {
            let next = (try? findNextRecord(warc, after: k)) ?? warc.count
            gz += try Fixtures.gzip(Array(warc[k..<next]))
            k = next
        }
        Fixtures.write(gz, to: dir + "/in/crawl.warc.gz")
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out")
        #expect(docs.map(\.text) == ["Web page text.", "Title\nExtracted text.\n"])
        #expect(docs[0].source.url == "https://e.org/")
        #expect(docs[0].source.record == "<urn:uuid:2>")
        #expect(docs[0].metadata.contains(JSONMember("title", .string("T"))))
        #expect(docs[1].source.record == "<urn:uuid:4>")
        #expect(m.counts.skipped["warc_non_text"] == 1)

        // Cut inside the third member: the records before it are kept, the error names the offset.
        Fixtures.write(Array(gz[0..<(gz.count - 60)]), to: dir + "/cut/crawl.warc.gz")
        let (m2, docs2) = try ingest([dir + "/cut"], out: dir + "/out2")
        #expect(docs2.map(\.text) == ["Web page text."])
        #expect(m2.counts.errors["truncated"] == 1)
        #expect(m2.issues.first?.offset == Int64(gz.count - 60))
    }

    func findNextRecord(_ b: [UInt8], after k: Int) throws -> Int {
        let magic = Array("WARC/1.0\r\n".utf8)
        var i = k + 1
        while i + magic.count <= b.count {
            if Array(b[i..<(i + magic.count)]) == magic && b[i - 1] == 0x0A { return i }
            i += 1
        }
        return b.count
    }

    @Test func truncatedTarGzKeepsTheMembersBeforeTheDamage() throws {
        let src = source(Dictionary(uniqueKeysWithValues: (0..<8).map { ("f\($0).txt", String(repeating: english[$0] + "\n", count: 200) + "\($0)") }))
        let tgz = dir + "/t.tar.gz"
        try Fixtures.bsdtar(tgz, format: "ustar", filter: "-z", from: src, members: (0..<8).map { "f\($0).txt" })
        let bytes = Fixtures.read(tgz)
        Fixtures.write(Array(bytes[0..<(bytes.count * 6 / 10)]), to: dir + "/in/cut.tar.gz")
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out")
        #expect(docs.count >= 3 && docs.count < 8, "\(docs.count)")
        #expect(docs.map(\.source.member) == (0..<docs.count).map { "f\($0).txt" })
        #expect(m.counts.errors["truncated"] == 1)
        let issue = try #require(m.issues.first)
        #expect(issue.offset == Int64(bytes.count * 6 / 10))
        #expect(issue.member != nil)
    }

    @Test func corruptGzipAndEmptyFilesAndEmptyArchives() throws {
        var gz = try Fixtures.gzip(Array(String(repeating: english[0], count: 50).utf8))
        for k in 30..<50 { gz[k] ^= 0xA5 }
        Fixtures.write(gz, to: dir + "/in/bad.txt.gz")
        Fixtures.write([], to: dir + "/in/empty.txt")
        Fixtures.write([UInt8](repeating: 0, count: 10240), to: dir + "/in/empty.tar")  // end-of-archive blocks only
        Fixtures.write(english[5], to: dir + "/in/good.txt")
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out")
        #expect(docs.map(\.text) == [english[5]])
        #expect(m.counts.errors["corrupt"] == 1)
        #expect(m.counts.skipped["empty"] == 1)
        #expect(m.inputs.map(\.errors) == [1, 0, 0, 0])
    }

    @Test func binaryMembersAreSkippedByReason() throws {
        let src = dir + "/src"
        Fixtures.write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 100), to: src + "/image.png.txt")
        Fixtures.write(Array("%PDF-1.4\n...".utf8), to: src + "/doc.pdf")
        Fixtures.write([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 64), to: src + "/tool")
        Fixtures.write(Array("text\u{0}with nul".utf8), to: src + "/nul.txt")
        Fixtures.write(english[6], to: src + "/ok.txt")
        try Fixtures.bsdtar(dir + "/in.zip", format: "zip", from: src, members: ["image.png.txt", "doc.pdf", "tool", "nul.txt", "ok.txt"])
        let (m, docs) = try ingest([dir + "/in.zip"], out: dir + "/out")
        #expect(docs.map(\.text) == [english[6]])
        #expect(m.counts.skipped == ["binary:image": 1, "binary:pdf": 1, "binary:executable": 1, "binary:nul": 1])
        #expect(m.counts.errors.isEmpty)
    }

    @Test func highRatioEntryStopsAtTheLimit() throws {
        // 64 MiB of zeros-like text compresses about 1000:1.
        let big = [UInt8](repeating: 0x61, count: 64 << 20)
        Fixtures.write(try Fixtures.gzip(big), to: dir + "/in/bomb.txt.gz")
        Fixtures.write(english[7], to: dir + "/in/next.txt")
        var o = IngestOptions()
        o.maxRatio = 100
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out", options: o)
        #expect(docs.map(\.text) == [english[7]])
        #expect(m.counts.errors["ratio_limit"] == 1)

        // Inside a zip, with an entry larger than --max-entry-size.
        let src = dir + "/zsrc"
        Fixtures.write(big, to: src + "/big.txt")
        Fixtures.write(english[8], to: src + "/small.txt")
        try Fixtures.bsdtar(dir + "/zin/bomb.zip", format: "zip", from: src, members: ["small.txt", "big.txt"])
        var o2 = IngestOptions()
        o2.maxEntrySize = 1 << 20
        let (m2, docs2) = try ingest([dir + "/zin"], out: dir + "/out2", options: o2)
        #expect(docs2.map(\.text) == [english[8]])
        #expect(m2.counts.skipped["entry_too_large"] == 1)
    }

    @Test func largeDocumentsAreDroppedWithAReasonNotTruncated() throws {
        Fixtures.write(String(repeating: "long line of text. ", count: 10_000), to: dir + "/in/long.txt")
        Fixtures.write(english[9], to: dir + "/in/short.txt")
        var o = IngestOptions()
        o.maxDocumentSize = 50_000
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out", options: o)
        #expect(docs.map(\.text) == [english[9]])
        #expect(m.counts.skipped["document_too_large"] == 1)
    }

    @Test func invalidUTF8AndLegacyEncodings() throws {
        Fixtures.write([0x61, 0x62, 0xFF, 0x63] + Array(" and more text".utf8), to: dir + "/in/bad.txt")
        let gb = try #require(Charset.convert(Array(chinese.utf8), from: "UTF-8", to: "GB18030"))
        Fixtures.write(gb, to: dir + "/in/gb.txt")
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out")
        #expect(docs.map(\.text) == ["ab\u{FFFD}c and more text", chinese])
        #expect(m.counts.replacedBytes == 1)
        #expect(m.counts.encodings == ["gb18030": 1])
        #expect(docs[1].metadata.contains(JSONMember("encoding", .string("gb18030"))))
    }

    @Test func unreadableInputIsAnErrorAndTheRunGoesOn() throws {
        Fixtures.write(english[10], to: dir + "/in/a.txt")
        Fixtures.write(english[11], to: dir + "/in/b.txt")
        chmod(dir + "/in/a.txt", 0)
        defer { chmod(dir + "/in/a.txt", 0o644) }
        // Root reads anything; the check only means something for other users.
        guard getuid() != 0 else { return }
        let (m, docs) = try ingest([dir + "/in"], out: dir + "/out")
        #expect(docs.map(\.text) == [english[11]])
        #expect(m.counts.errors["read_error"] == 1)
    }
}
