import ArchiveIO
@testable import DataPrep
import Foundation
import Testing
import TestSupport

@Suite struct TextDecodingTests {
    @Test func utf8AndBOM() {
        #expect(TextDecoding.decode(Array("héllo".utf8)) == DecodedText(text: "héllo", encoding: "utf-8", replacedBytes: 0))
        let bom = TextDecoding.decode([0xEF, 0xBB, 0xBF] + Array("x\r\ny".utf8))
        #expect(bom.text == "x\ny")
        #expect(bom.encoding == "utf-8-bom")
    }

    @Test func utf16ByBOM() throws {
        let le = try #require(Charset.convert(Array("中文 text\r\n".utf8), from: "UTF-8", to: "UTF-16LE"))
        let d = TextDecoding.decode([0xFF, 0xFE] + le)
        #expect(d.text == "中文 text\n")
        #expect(d.encoding == "utf-16le")
        let be = try #require(Charset.convert(Array("abc".utf8), from: "UTF-8", to: "UTF-16BE"))
        #expect(TextDecoding.decode([0xFE, 0xFF] + be).text == "abc")
    }

    @Test func lineEndings() {
        #expect(TextDecoding.normalizeNewlines("a\r\nb\rc\n\r\nd") == "a\nb\nc\n\nd")
    }

    @Test func invalidBytesAreReplacedAndCounted() {
        let d = TextDecoding.decode([0x61, 0xFF, 0x62, 0xC3, 0x28, 0xED, 0xA0, 0x80])
        #expect(d.replacedBytes == 5)
        #expect(d.text == "a\u{FFFD}b\u{FFFD}(\u{FFFD}\u{FFFD}\u{FFFD}")
    }

    /// The validator agrees with Swift's own on random and edge-case byte strings.
    @Test func validatorMatchesTheStandardLibrary() {
        var rng = SystemRandomNumberGenerator()
        var cases: [[UInt8]] = [[0xF4, 0x90, 0x80, 0x80], [0xE0, 0x80, 0x80], [0xC0, 0xAF], [0xF0, 0x9F, 0x98, 0x80],
                                [0xED, 0x9F, 0xBF], [0xEF, 0xBF, 0xBF], Array("plain ascii text!".utf8)]
        for _ in 0..<2000 {
            cases.append((0..<Int.random(in: 0..<24, using: &rng)).map { _ in
                [0x41, 0x80, 0xBF, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xFF, 0xA0, 0x9F].randomElement(using: &rng)!
            })
        }
        for c in cases {
            let valid = String(validating: c, as: UTF8.self) != nil
            #expect((TextDecoding.validUTF8Prefix(c[...]) == c.count) == valid, "\(c)")
        }
    }

    @Test func gb18030FromTheSamples() throws {
        let raw = Fixtures.read(Fixtures.samples + "/zh-gb18030.txt")
        #expect(String(validating: raw, as: UTF8.self) == nil)
        let d = TextDecoding.decode(raw)
        #expect(d.encoding == "gb18030")
        #expect(d.replacedBytes == 0)
        #expect(d.text.contains("的"))
    }

    @Test func big5FromTheSamples() throws {
        let raw = Fixtures.read(Fixtures.samples + "/zh-big5.txt")
        let d = TextDecoding.decode(raw)
        #expect(d.encoding == "big5")
        // Traditional characters that GB18030 would garble.
        #expect(d.text.contains("的") || d.text.contains("與") || d.text.contains("這"))
    }

    /// Real Chinese text from the corpora: encoded as GB18030 it is read as GB18030, encoded as
    /// Big5 (where every character fits) it is read as Big5.
    @Test func chineseHeuristicOnCorpusText() throws {
        let zh = try Fixtures.run("zstd", ["-dc", Fixtures.corpora + "/zh-docs.jsonl.zst"])
        var gbRight = 0, big5Right = 0, big5Tried = 0, tried = 0
        for line in zh.stdout.split(separator: "\n").prefix(400) {
            guard let doc = try? Document.parse(Array(line.utf8)), doc.text.utf8.count > 60 else { continue }
            let text = String(doc.text.prefix(300))
            guard let gb = Charset.convert(Array(text.utf8), from: "UTF-8", to: "GB18030"),
                  gb != Array(text.utf8) else { continue }
            tried += 1
            if TextDecoding.decode(gb).encoding == "gb18030" { gbRight += 1 }
            if let b5 = Charset.convert(Array(text.utf8), from: "UTF-8", to: "BIG5-HKSCS"), b5 != Array(text.utf8) {
                big5Tried += 1
                if TextDecoding.decode(b5).encoding == "big5" { big5Right += 1 }
            }
        }
        #expect(tried > 100)
        #expect(Double(gbRight) / Double(tried) > 0.98, "GB18030 right \(gbRight)/\(tried)")
        if big5Tried > 20 {
            #expect(Double(big5Right) / Double(big5Tried) > 0.9, "Big5 right \(big5Right)/\(big5Tried)")
        }
    }
}

@Suite struct SniffTests {
    @Test(arguments: [
        ([0x1F, 0x8B, 8, 0], "x", ContentKind.compressed(.gzip)),
        ([0x28, 0xB5, 0x2F, 0xFD], "x", .compressed(.zstd)),
        ([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], "x", .compressed(.xz)),
        (Array("BZh91AY".utf8), "x", .compressed(.bzip2)),
        ([0x50, 0x4B, 0x03, 0x04, 0, 0], "x", .archive(.zip)),
        ([0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C], "x", .archive(.sevenZip)),
        (Array("070701000".utf8), "x", .archive(.cpio)),
        (Array("WARC/1.0\r\n".utf8), "x.warc", .warc),
        (Array("{\"text\": \"a\"}\n".utf8), "data.bin", .jsonl),
        (Array("{ not json".utf8), "notes.txt", .text),
        (Array("<!DOCTYPE html><html><p>x".utf8), "page", .html),
        (Array("# Title\n\nText".utf8), "a.md", .text),
        (Array("%PDF-1.7".utf8), "a.txt", .binary("binary:pdf")),
        ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A], "a.txt", .binary("binary:image")),
        ([0x7F, 0x45, 0x4C, 0x46, 2, 1], "tool", .binary("binary:executable")),
        ([0x41, 0x00, 0x42], "a.txt", .binary("binary:nul")),
        ([], "a.txt", .empty),
    ] as [([UInt8], String, ContentKind)])
    func classify(_ head: [UInt8], _ name: String, _ kind: ContentKind) {
        #expect(Sniffer.classify(head: head, name: name) == kind)
    }

    @Test func tarByMagicAndByChecksum() throws {
        let dir = Fixtures.tempDir()
        Fixtures.write("hello", to: dir + "/src/a.txt")
        try Fixtures.bsdtar(dir + "/a.tar", format: "ustar", from: dir + "/src", members: ["a.txt"])
        #expect(Sniffer.classify(head: Array(Fixtures.read(dir + "/a.tar").prefix(4096)), name: "a") == .archive(.tar))
        try Fixtures.bsdtar(dir + "/v7.tar", format: "v7tar", from: dir + "/src", members: ["a.txt"])
        #expect(Sniffer.classify(head: Array(Fixtures.read(dir + "/v7.tar").prefix(4096)), name: "a") == .archive(.tar))
    }
}
