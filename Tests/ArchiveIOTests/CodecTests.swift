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

    /// A frame that declares 256 bytes of content and holds one empty last block (10 bytes, the
    /// zstd fuzz target's first finding): corrupt whether it arrives whole or in 7-byte pieces.
    /// libzstd 1.5.4 checks the size only when it has the whole frame at once, so in pieces it
    /// was read as an empty stream.
    @Test func aDeclaredContentSizeIsCheckedWhateverTheReads() throws {
        let frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x60, 0x00, 0x00, 0x01, 0x00, 0x00]
        for piece in [frame.count, 7, 1] {
            do {
                let out = try readAll(ZstdDecoder(GzipReferenceTests.ChunkedSource(frame, chunk: piece)), limit: 1 << 20)
                Issue.record("read in \(piece)-byte pieces as \(out?.count ?? -1) bytes")
            } catch let ArchiveIOError.corrupt(format, offset, _) {
                #expect(format == "zstd" && offset <= Int64(frame.count))
            }
        }
        // The same frame declaring no size, or its true size 0, is an empty stream.
        for fhd: UInt8 in [0x00, 0x20] {
            var ok = frame
            ok.replaceSubrange(4..<7, with: fhd == 0x00 ? [0x00, 0x40] : [0x20, 0x00])
            for piece in [ok.count, 3] {
                #expect(try readAll(ZstdDecoder(GzipReferenceTests.ChunkedSource(ok, chunk: piece)), limit: 1 << 20) == [])
            }
        }
        // Skippable frames hold no content: before and after a real one, the text comes through.
        let skippable: [UInt8] = [0x50, 0x2A, 0x4D, 0x18, 3, 0, 0, 0, 1, 2, 3]
        for piece in [1 << 20, 5] {
            let z = try skippable + Fixtures.zstd(text) + skippable
            #expect(try readAll(ZstdDecoder(GzipReferenceTests.ChunkedSource(z, chunk: piece)), limit: 1 << 30) == text)
        }
    }

    /// A frame header with the reserved bit set (22 bytes, the zstd fuzz target's fourth finding):
    /// libzstd refuses it given whole ("Unsupported frame parameter") and read it as an empty
    /// frame in 7-byte pieces. Corrupt either way now.
    @Test func anInvalidFrameHeaderIsRefusedWhateverTheReads() throws {
        let frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x22, 0x00, 0x00, 0x00, 0x10, 0x26,
                              0xB5, 0x2F, 0xFD, 0x00, 0x00, 0x00, 0x00]
        for piece in [frame.count, 7, 1] {
            #expect(throws: ArchiveIOError.self, "in \(piece)-byte pieces") {
                _ = try readAll(ZstdDecoder(GzipReferenceTests.ChunkedSource(frame, chunk: piece)), limit: 1 << 20)
            }
        }
    }

    /// Kept as a known difference, not fixed: a frame that declares a size of 0 and holds one
    /// RLE block of size 0 (`28 B5 2F FD 20 00 03 00 00 00`, the zstd fuzz target's second
    /// finding; its third put a 128-byte frame after it). Given whole, libzstd 1.5.4 takes its
    /// one-shot path and reads an empty frame; in pieces its streaming path calls it corrupt, and
    /// what follows is not read. Nothing is taken silently: the fuzz target accepts exactly
    /// this direction (pieces refuse, the whole read goes on, the bytes agree up to the refusal).
    @Test func anEmptyRLEBlockIsJudgedByHowTheFrameArrives() throws {
        let frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x00, 0x03, 0x00, 0x00, 0x00]
        let then = frame + [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x28, 0x03, 0x04, 0x00, 0x00]  // 128 zeros
        #expect(try readAll(ZstdDecoder(GzipReferenceTests.ChunkedSource(frame, chunk: frame.count)), limit: 1 << 20) == [])
        #expect(try readAll(ZstdDecoder(GzipReferenceTests.ChunkedSource(then, chunk: then.count)), limit: 1 << 20)
            == [UInt8](repeating: 0, count: 128))
        for input in [frame, then] {
            #expect(throws: ArchiveIOError.self) {
                _ = try readAll(ZstdDecoder(GzipReferenceTests.ChunkedSource(input, chunk: 7)), limit: 1 << 20)
            }
        }
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
