import ArchiveIO
@testable import DataPrep
import Testing

func warcRecord(type: String, id: String, uri: String? = nil, contentType: String, block: [UInt8]) -> [UInt8] {
    var h = "WARC/1.0\r\nWARC-Type: \(type)\r\nWARC-Record-ID: \(id)\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n"
    if let uri { h += "WARC-Target-URI: \(uri)\r\n" }
    h += "Content-Type: \(contentType)\r\nContent-Length: \(block.count)\r\n\r\n"
    return Array(h.utf8) + block + Array("\r\n\r\n".utf8)
}

func httpResponse(_ body: String, contentType: String = "text/html; charset=utf-8") -> [UInt8] {
    Array("HTTP/1.1 200 OK\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
}

@Suite struct WARCTests {
    @Test func readsRecordsByContentLength() throws {
        // A block that contains blank lines and a fake version line must not confuse the reader.
        let tricky = Array("line\r\n\r\nWARC/1.0\r\nnot a header\r\n".utf8)
        let data = warcRecord(type: "warcinfo", id: "<urn:uuid:0>", contentType: "application/warc-fields", block: tricky)
            + warcRecord(type: "response", id: "<urn:uuid:1>", uri: "https://example.org/a", contentType: "application/http; msgtype=response",
                         block: httpResponse("<p>Hello</p>"))
        let r = WARCReader(BufferedReader(MemorySource(data)), maxBlockBytes: 1 << 20)
        let a = try #require(try r.next())
        #expect(a.type == "warcinfo")
        #expect(a.block == tricky)
        let b = try #require(try r.next())
        #expect(b.field("warc-target-uri") == "https://example.org/a")
        #expect(b.offset == Int64(warcRecord(type: "warcinfo", id: "<urn:uuid:0>", contentType: "application/warc-fields", block: tricky).count))
        let http = try #require(HTTPResponse.parse(b.block))
        #expect(http.status == 200)
        #expect(http.mediaType == "text/html")
        #expect(http.charset == "utf-8")
        #expect(http.body == Array("<p>Hello</p>".utf8))
        #expect(try r.next() == nil)
    }

    @Test func truncatedBlock() throws {
        let full = warcRecord(type: "conversion", id: "<urn:uuid:2>", contentType: "text/plain", block: Array(repeating: 0x61, count: 1000))
        let r = WARCReader(BufferedReader(MemorySource(Array(full[0..<500]))), maxBlockBytes: 1 << 20)
        #expect(throws: WARCError.self) { _ = try r.next() }
    }

    @Test func garbageIsMalformed() throws {
        let r = WARCReader(BufferedReader(MemorySource(Array("HTTP/1.1 200 OK\r\n\r\n".utf8))), maxBlockBytes: 1 << 20)
        do {
            _ = try r.next()
            Issue.record("expected an error")
        } catch let WARCError.malformed(offset, _) {
            #expect(offset == 0)
        }
    }

    @Test func chunkedBodies() {
        let block = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n6\r\n World\r\n0\r\n\r\n".utf8)
        #expect(HTTPResponse.parse(block)?.body == Array("Hello World".utf8))
    }
}
