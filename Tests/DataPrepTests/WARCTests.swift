import ArchiveIO
@testable import DataPrep
import Foundation
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

    /// A record that claims a 256 MB block (ingest's limit: 4 × the 64 MiB --max-document-size)
    /// and holds 100 bytes: a truncation naming the record's offset, and memory for the 100
    /// bytes. The reader used to reserve the whole Content-Length before reading the block.
    @Test func aShortRecordClaimingAHugeBlockCostsWhatItHolds() throws {
        let claimed = 256 << 20
        let first = warcRecord(type: "warcinfo", id: "<urn:uuid:0>", contentType: "application/warc-fields",
                               block: Array("software: kiln\r\n".utf8))
        let short = Array("WARC/1.0\r\nWARC-Type: resource\r\nContent-Length: \(claimed)\r\n\r\n".utf8)
            + [UInt8](repeating: 0x61, count: 100)
        var smallestGrowth = Int.max
        // Three tries, keeping the smallest: other tests of this process allocate meanwhile.
        for _ in 0..<3 {
            let source = AddressSpaceProbe(first + short)
            let r = WARCReader(BufferedReader(source, capacity: 512), maxBlockBytes: 4 * (64 << 20))
            _ = try #require(try r.next())
            do {
                _ = try r.next()
                Issue.record("a record 256 MB short was read")
            } catch let e as WARCError {
                guard case let .truncated(offset) = e else { Issue.record("expected truncated, got \(e)"); break }
                #expect(offset == Int64(first.count))
                #expect(e.description == "truncated WARC record starting at byte \(first.count)")
            }
            smallestGrowth = min(smallestGrowth, source.peak - source.baseline)
        }
        // The old reader: 256 MiB more address space while the block was read.
        #expect(smallestGrowth < 64 << 20, "address space grew by \(smallestGrowth >> 20) MiB reading 100 bytes")

        // The block read the way WARCReader reads it: capacity for what came, not what was claimed.
        let block = try BufferedReader(MemorySource([UInt8](repeating: 0x61, count: 100))).read(upTo: claimed)
        #expect(block.count == 100)
        #expect(block.capacity <= 2 << 20, "reserved \(block.capacity) bytes for 100")
        // A complete read grows to its size without doubling past it.
        let whole = try BufferedReader(MemorySource([UInt8](repeating: 0x62, count: 3 << 20)), capacity: 4096).read(upTo: 3 << 20)
        #expect(whole.count == 3 << 20 && whole.capacity < 4 << 20)
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

/// A byte source that notes the process's address space (VmSize) at each read: an allocation
/// made before a read shows, even if no page of it is touched.
final class AddressSpaceProbe: ByteSource {
    private let source: MemorySource
    let baseline: Int
    private(set) var peak: Int
    var rawBytesConsumed: Int64 { source.rawBytesConsumed }

    init(_ bytes: [UInt8]) {
        source = MemorySource(bytes)
        baseline = Self.addressSpace()
        peak = baseline
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        peak = max(peak, Self.addressSpace())
        return try source.read(into: buffer)
    }

    /// VmSize in bytes: the first field of /proc/self/statm, in pages.
    static func addressSpace() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").first.flatMap({ Int($0) }) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
