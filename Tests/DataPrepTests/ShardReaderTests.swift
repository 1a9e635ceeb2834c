import ArchiveIO
@testable import DataPrep
import Foundation
import Testing
import TestSupport

/// The stages read each input shard once: the SHA-256 their manifests give is taken while the
/// documents are read, and must be the file's own, compressed or not.
@Suite struct ShardReaderTests {
    static let records = (0..<500).map { i in
        Document(id: "doc-\(i)", text: i % 3 == 0 ? "第\(i)篇文档。中文与English混排。" : "Document \(i): some text.\nA second line.",
                 source: .init(input: "x.jsonl"))
    }

    static func shard(_ dir: String, _ name: String, wrap: (ByteSink) throws -> ByteSink) throws -> String {
        let path = dir + "/" + name
        let file = try AtomicFileWriter(path: path)
        let sink = try wrap(file)
        for d in records {
            var bytes = d.jsonLine()
            bytes.append(0x0A)
            try sink.write(bytes)
        }
        try sink.finish()
        if sink !== file { try file.finish() }
        try file.commit()
        return path
    }

    @Test(arguments: ["plain", "zstd", "gzip"])
    func theDigestIsTheFilesAndEveryDocumentIsRead(_ kind: String) throws {
        let dir = Fixtures.tempDir("shard-reader")
        let path = try Self.shard(dir, "docs.jsonl" + (kind == "zstd" ? ".zst" : kind == "gzip" ? ".gz" : "")) { file in
            switch kind {
            case "zstd": try ZstdEncoder(file)
            case "gzip": try GzipEncoder(file)
            default: file
            }
        }
        var ids: [String] = []
        let digest = try Shards.forEachDocument(in: path) { doc, _ in ids.append(doc.id) }
        #expect(ids == Self.records.map(\.id))
        #expect(digest == (try sha256(ofFile: path)))
        // The same through the line reader the tokenizer stage uses.
        var lines = 0
        #expect(try Shards.forEachLine(in: path) { _, _ in lines += 1 } == digest)
        #expect(lines == Self.records.count)
    }

    @Test func bytesAfterTheCompressedStreamAreHashedToo() throws {
        // A gzip file may hold several members; the digest must cover every byte of the file,
        // including what the decoder reads last.
        let dir = Fixtures.tempDir("shard-reader")
        let path = try Self.shard(dir, "docs.jsonl.gz") { try GzipEncoder($0) }
        var bytes = Fixtures.read(path)
        bytes += bytes
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var n = 0
        let digest = try Shards.forEachDocument(in: path) { _, _ in n += 1 }
        #expect(n == 2 * Self.records.count)
        #expect(digest == (try sha256(ofFile: path)))
    }
}
