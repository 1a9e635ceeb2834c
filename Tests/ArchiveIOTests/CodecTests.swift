import ArchiveIO
import Foundation
import Testing
import TestSupport

@Suite struct GzipTests {
    let text = Array(String(repeating: "Kiln reads gzip members one after another. 中文也可以。\n", count: 500).utf8)

    func decode(_ bytes: [UInt8]) throws -> [UInt8] {
        try readAll(GzipDecoder(MemorySource(bytes)), limit: 1 << 30)!
    }

    @Test func roundTrip() throws {
        #expect(try decode(Fixtures.gzip(text)) == text)
    }

    @Test func severalMembersAreOneStream() throws {
        let a = Array(text[0..<1000]), b = Array(text[1000...])
        let joined = try Fixtures.gzip(a) + Fixtures.gzip(b)
        let dec = try GzipDecoder(MemorySource(joined))
        #expect(try readAll(dec, limit: 1 << 30)! == text)
        #expect(dec.membersCompleted == 2)
    }

    @Test func emptyMember() throws {
        #expect(try decode(Fixtures.gzip([])) == [])
    }

    @Test func truncatedMemberIsAnErrorWithOffset() throws {
        let gz = try Fixtures.gzip(text)
        let cut = Array(gz[0..<(gz.count / 2)])
        #expect(throws: ArchiveIOError.truncated(format: "gzip", offset: Int64(cut.count))) {
            _ = try decode(cut)
        }
    }

    @Test func truncatedSecondMemberKeepsTheFirst() throws {
        let first = try Fixtures.gzip(Array("first member\n".utf8))
        let second = try Fixtures.gzip(text)
        let dec = try GzipDecoder(MemorySource(first + Array(second[0..<40])))
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        do {
            while true {
                let n = try buf.withUnsafeMutableBytes { try dec.read(into: $0) }
                if n == 0 { break }
                got += buf[0..<n]
            }
            Issue.record("expected a truncation error")
        } catch let ArchiveIOError.truncated(format, _) {
            #expect(format == "gzip")
        }
        #expect(String(decoding: got, as: UTF8.self).hasPrefix("first member\n"))
        #expect(dec.memberStart == Int64(first.count))
    }

    @Test func corruptDataNamesTheOffset() throws {
        var gz = try Fixtures.gzip(text)
        for k in 20..<60 { gz[k] ^= 0x5A }
        do {
            _ = try decode(gz)
            Issue.record("expected an error")
        } catch let ArchiveIOError.corrupt(format, offset, _) {
            #expect(format == "gzip")
            #expect(offset > 0 && offset <= Int64(gz.count))
        }
    }

    @Test func trailingGarbageIsAnError() throws {
        let gz = try Fixtures.gzip(text) + Array("garbage".utf8)
        #expect(throws: ArchiveIOError.self) { _ = try decode(gz) }
    }

    @Test func trailingZeroPaddingIsAccepted() throws {
        let gz = try Fixtures.gzip(text) + [UInt8](repeating: 0, count: 512)
        #expect(try decode(gz) == text)
    }
}

@Suite struct ZstdTests {
    let text = Array(String(repeating: "zstd frames with checksums. 压缩。\n", count: 2000).utf8)

    func decode(_ bytes: [UInt8]) throws -> [UInt8] {
        try readAll(ZstdDecoder(MemorySource(bytes)), limit: 1 << 30)!
    }

    @Test func roundTripAndConcatenatedFrames() throws {
        #expect(try decode(Fixtures.zstd(text)) == text)
        #expect(try decode(Fixtures.zstd(text) + Fixtures.zstd(text)) == text + text)
    }

    @Test func truncated() throws {
        let z = try Fixtures.zstd(text)
        #expect(throws: ArchiveIOError.self) { _ = try decode(Array(z[0..<(z.count - 3)])) }
    }

    @Test func corruptIsDetectedByTheChecksum() throws {
        var z = try Fixtures.zstd(text)
        z[z.count / 2] ^= 0xFF
        #expect(throws: ArchiveIOError.self) { _ = try decode(z) }
    }
}

@Suite struct BufferedReaderTests {
    @Test func linesPeekAndExactReads() throws {
        let data = Array("one\ntwo\r\n\nthree".utf8)
        let r = BufferedReader(MemorySource(data), capacity: 4096)
        #expect(try r.peek(3) == Array("one".utf8))
        var lines: [String] = []
        while let l = try r.readLine(maxLength: 100) {
            if case let .line(b) = l { lines.append(String(decoding: b, as: UTF8.self)) }
        }
        #expect(lines == ["one", "two\r", "", "three"])
        #expect(r.offset == Int64(data.count))
    }

    @Test func longLinesAreReportedAndSkipped() throws {
        let data = Array((String(repeating: "x", count: 10_000) + "\nshort\n").utf8)
        let r = BufferedReader(MemorySource(data), capacity: 4096)
        guard case let .tooLong(length)? = try r.readLine(maxLength: 100) else {
            Issue.record("expected tooLong")
            return
        }
        #expect(length == 10_000)
        guard case let .line(b)? = try r.readLine(maxLength: 100) else {
            Issue.record("expected a line")
            return
        }
        #expect(b == Array("short".utf8))
    }

    @Test func peekBeyondTheBufferGrowsIt() throws {
        let data = (0..<100_000).map { UInt8($0 % 251) }
        let r = BufferedReader(MemorySource(data), capacity: 4096)
        #expect(try r.peek(50_000) == Array(data[0..<50_000]))
        #expect(try r.read(upTo: 70_000) == Array(data[0..<70_000]))
        #expect(try readAll(r, limit: 1 << 20)! == Array(data[70_000...]))
    }
}

@Suite struct CharsetTests {
    @Test func gb18030RoundTrip() throws {
        let text = "简体中文，繁體中文，and English。"
        let gb = try #require(Charset.convert(Array(text.utf8), from: "UTF-8", to: "GB18030"))
        #expect(gb != Array(text.utf8))
        #expect(Charset.toUTF8(gb, from: "GB18030") == Array(text.utf8))
    }

    @Test func invalidInputGivesNil() {
        #expect(Charset.toUTF8([0x81, 0x20], from: "GB18030") == nil)
    }
}

@Suite struct AtomicFileTests {
    @Test func uncommittedFilesVanish() throws {
        let dir = Fixtures.tempDir()
        do {
            let w = try AtomicFileWriter(path: dir + "/out.txt")
            try w.write(Array("partial".utf8))
            try w.finish()
            #expect(FileManager.default.fileExists(atPath: w.temporaryPath))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        try AtomicFileWriter.write(Array("whole".utf8), to: dir + "/out.txt")
        #expect(Fixtures.read(dir + "/out.txt") == Array("whole".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.txt"])
    }
}
