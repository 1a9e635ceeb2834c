import ArchiveIO
import Foundation
import Testing
import TestSupport

/// The ISA-L decoder (`GzipDecoder`) against zlib's (`ZlibGzipDecoder`, the reference) on every
/// gzip fixture and on edge inputs, read in odd pieces: same bytes, same member count and offsets,
/// same kind of error (and the same offset for a truncation).
@Suite struct GzipReferenceTests {
    /// What a decoder made of one input.
    struct Outcome: Equatable, CustomStringConvertible {
        var bytes: [UInt8]
        var error: String?
        var members: Int
        var memberStart: Int64
        var description: String {
            "\(bytes.count) bytes, \(members) members, last at \(memberStart), error: \(error ?? "none")"
        }
    }

    enum Engine: CaseIterable { case isal, zlib }

    /// Hands out at most `chunk` bytes per read, so that headers, blocks and trailers straddle
    /// the decoder's input refills.
    final class ChunkedSource: ByteSource {
        let bytes: [UInt8]
        let chunk: Int
        var offset = 0
        var rawBytesConsumed: Int64 { Int64(offset) }
        init(_ bytes: [UInt8], chunk: Int) { self.bytes = bytes; self.chunk = chunk }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = min(buffer.count, chunk, bytes.count - offset)
            guard n > 0 else { return 0 }
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            offset += n
            return n
        }
    }

    static func decode(_ input: [UInt8], engine: Engine, inChunk: Int = 1 << 30, outChunk: Int = 1 << 16,
                       bufferSize: Int = 1 << 17) throws -> Outcome {
        let source = ChunkedSource(input, chunk: inChunk)
        let decoder: ByteSource
        let members: () -> (Int, Int64)
        switch engine {
        case .isal:
            let d = try GzipDecoder(source, bufferSize: bufferSize)
            decoder = d
            members = { (d.membersCompleted, d.memberStart) }
        case .zlib:
            let d = try ZlibGzipDecoder(source, bufferSize: bufferSize)
            decoder = d
            members = { (d.membersCompleted, d.memberStart) }
        }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: outChunk)
        var error: String?
        do {
            while true {
                let n = try buf.withUnsafeMutableBytes { try decoder.read(into: $0) }
                if n == 0 { break }
                out += buf[0..<n]
            }
        } catch let ArchiveIOError.truncated(format, offset) {
            error = "truncated \(format) at \(offset)"
        } catch let ArchiveIOError.corrupt(format, offset, _) {
            #expect(offset >= 0 && offset <= Int64(input.count))
            error = "corrupt \(format)"
        }
        let (count, start) = members()
        return Outcome(bytes: out, error: error, members: count, memberStart: start)
    }

    /// Both decoders, several ways of reading; returns the reference outcome.
    @discardableResult
    static func check(_ input: [UInt8], _ label: String, readings: [(Int, Int, Int)] = standardReadings,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> Outcome {
        let first = try decode(input, engine: .zlib)
        for (inChunk, outChunk, bufferSize) in readings {
            // Read the same way: where a damaged stream stops depends on the size of the reads.
            let reference = try decode(input, engine: .zlib, inChunk: inChunk, outChunk: outChunk, bufferSize: bufferSize)
            var got = try decode(input, engine: .isal, inChunk: inChunk, outChunk: outChunk, bufferSize: bufferSize)
            // A damaged or cut stream: with either decoder the read that meets the damage throws
            // and its bytes are lost, and the two decoders stop at different points (ISA-L
            // decodes up to 32 KiB ahead of a small read; zlib throws a CRC error in the call
            // that gives the member's last bytes). The bytes each hands out before the error
            // must agree, and the error, its kind and member counts must be the same.
            if got.error != nil, got.error == reference.error, got.bytes != reference.bytes {
                let n = min(got.bytes.count, reference.bytes.count)
                if got.bytes.prefix(n) == reference.bytes.prefix(n) { got.bytes = reference.bytes }
            }
            #expect(got == reference, "\(label), read \(inChunk)/\(outChunk)/\(bufferSize): \(got) vs zlib \(reference)",
                    sourceLocation: sourceLocation)
        }
        return first
    }

    /// (input chunk, output chunk, decoder buffer size).
    static let standardReadings = [(1 << 30, 1 << 18, 1 << 17), (1 << 30, 4096, 1 << 17), (1000, 7, 64),
                                   (3, 1 << 16, 1 << 17), (1, 1 << 16, 64)]
    static let fastReadings = [(1 << 30, 1 << 18, 1 << 17), (4093, 65_521, 1 << 12)]

    static func text(_ n: Int) -> [UInt8] {
        var s = ""
        var k = 0
        while s.utf8.count < n {
            s += "Line \(k): Kiln reads gzip members one after another. 中文也可以。 \(k * k % 9973)\n"
            k += 1
        }
        return Array(s.utf8.prefix(n))
    }

    static func random(_ n: Int, seed: UInt64) -> [UInt8] {
        var g = TestRandom(seed: seed)
        return (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }
    }

    static func gzip(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        let sink = MemorySink()
        let enc = try GzipEncoder(sink, level: level)
        try enc.write(bytes)
        try enc.finish()
        return sink.bytes
    }

    // MARK: - Fixtures

    @Test(arguments: ["crawl.warc.gz", "crawl.warc.wet.gz", "web-c4.jsonl.gz", "text-docs.tar.gz", "truncated.tar.gz"])
    func sampleFiles(name: String) throws {
        let bytes = Fixtures.read(Fixtures.samples + "/" + name)
        #expect(!bytes.isEmpty)
        let r = try Self.check(bytes, name)
        if name.hasPrefix("crawl.warc") { #expect(r.members > 1) }
        if name == "truncated.tar.gz" { #expect(r.error?.hasPrefix("truncated") == true) }
    }

    @Test func gzipAndBsdtarOutput() throws {
        let dir = Fixtures.tempDir()
        let plain = Self.text(300_000)
        Fixtures.write(plain, to: dir + "/a.txt")
        Fixtures.write(Self.random(100_000, seed: 7), to: dir + "/b.bin")
        for flag in ["-1", "-9"] {
            let r = try Fixtures.run("gzip", ["-k", "-f", "-n", flag, dir + "/a.txt"])
            #expect(r.status == 0)
            #expect(try Self.check(Fixtures.read(dir + "/a.txt.gz"), "gzip \(flag)").bytes == plain)
            // With its name stored in the header (FNAME).
            _ = try Fixtures.run("gzip", ["-k", "-f", "-N", flag, dir + "/a.txt"])
            #expect(try Self.check(Fixtures.read(dir + "/a.txt.gz"), "gzip -N \(flag)").bytes == plain)
        }
        try Fixtures.bsdtar(dir + "/t.tar.gz", format: "ustar", filter: "-z", from: dir, members: ["a.txt", "b.bin"])
        try Self.check(Fixtures.read(dir + "/t.tar.gz"), "bsdtar -z")
    }

    // MARK: - Edge inputs

    @Test func emptyAndTinyMembers() throws {
        #expect(try Self.check([], "no input").bytes == [])
        #expect(try Self.check(Self.gzip([]), "empty member").members == 1)
        #expect(try Self.check(Self.gzip([0x41]), "one byte").bytes == [0x41])
        let three = try Self.gzip([]) + Self.gzip([0x0A]) + Self.gzip([])
        let r = try Self.check(three, "empty, one byte, empty")
        #expect(r.bytes == [0x0A] && r.members == 3)
    }

    @Test(arguments: [Int32(0), 1, 6, 9])
    func levelsAndContents(level: Int32) throws {
        for (name, data) in [("text", Self.text(700_000)), ("random", Self.random(200_000, seed: 3)),
                             ("zeros", [UInt8](repeating: 0, count: 3_000_000)),
                             ("mixed", Self.text(50_000) + Self.random(50_000, seed: 4) + Self.text(50_000))] {
            let gz = try Self.gzip(data, level: level)
            let readings = data.count > 1_000_000 ? Self.fastReadings : Self.standardReadings
            #expect(try Self.check(gz, "\(name) level \(level)", readings: readings).bytes == data)
        }
    }

    @Test func manyMembersOfAllSizes() throws {
        var g = TestRandom(seed: 11)
        var gz: [UInt8] = []
        var plain: [UInt8] = []
        var starts: [Int] = []
        for k in 0..<400 {
            let n = k % 10 == 0 ? 0 : Int(g.next() % 3000)
            let part = k % 3 == 0 ? Self.random(n, seed: UInt64(k)) : Self.text(n)
            starts.append(gz.count)
            gz += try Self.gzip(part, level: Int32(k % 10))
            plain += part
        }
        let r = try Self.check(gz, "400 members")
        #expect(r.bytes == plain && r.members == 400 && r.memberStart == Int64(starts.last!))
    }

    @Test func paddingAndTrailingGarbage() throws {
        let gz = try Self.gzip(Self.text(5000))
        #expect(try Self.check(gz + [UInt8](repeating: 0, count: 1000), "zero padding").error == nil)
        #expect(try Self.check(gz + Array("garbage".utf8), "garbage").error != nil)
        #expect(try Self.check(gz + [0, 0, 0x1F], "padding then a lone magic byte").error?.hasPrefix("truncated") == true)
        #expect(try Self.check(gz + [0x1F, 0x8C, 8, 0, 0, 0, 0, 0, 0, 3], "bad magic").error != nil)
    }

    @Test func truncatedAtEveryPosition() throws {
        let gz = try Self.gzip(Self.text(3000)) + Self.gzip(Self.random(700, seed: 5), level: 0) + Self.gzip(Self.text(40))
        for cut in 0..<gz.count {
            let prefix = Array(gz[0..<cut])
            let r = try Self.check(prefix, "cut at \(cut)", readings: [(1 << 30, 1 << 16, 1 << 17), (5, 3, 64)])
            if cut > 0 { #expect(r.error == "truncated gzip at \(cut)" || r.error == nil) }
        }
    }

    @Test func corruptChecksumsAndHeaders() throws {
        let plain = Self.text(20_000)
        let gz = try Self.gzip(plain)
        var crc = gz; crc[crc.count - 8] ^= 0x01
        #expect(try Self.check(crc, "CRC32").error == "corrupt gzip")
        var size = gz; size[size.count - 1] ^= 0x80
        #expect(try Self.check(size, "ISIZE").error == "corrupt gzip")
        var method = gz; method[2] = 7
        #expect(try Self.check(method, "method").error == "corrupt gzip")
        var reserved = gz; reserved[3] = 0x20
        #expect(try Self.check(reserved, "reserved flag").error == "corrupt gzip")
        // Header with extra field, name, comment and header CRC (FEXTRA | FNAME | FCOMMENT | FHCRC).
        var header: [UInt8] = [0x1F, 0x8B, 8, 0x04 | 0x08 | 0x10 | 0x02, 0, 0, 0, 0, 0, 3, 5, 0, 1, 2, 3, 4, 5]
        header += Array("name.txt".utf8) + [0] + Array("a comment".utf8) + [0]
        let hcrc = Self.crc32(header)
        let full = header + [UInt8(hcrc & 0xFF), UInt8(hcrc >> 8 & 0xFF)] + gz[10...]
        #expect(try Self.check(full, "all header fields").bytes == plain)
        // A file name longer than the decoder's input buffer.
        let long = [0x1F, 0x8B, 8, 0x08, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0x61, count: 200_000) + [0] + gz[10...]
        #expect(try Self.check(Array(long), "200 kB file name", readings: Self.fastReadings).bytes == plain)
        var badHCRC = full; badHCRC[header.count] ^= 0xFF
        #expect(try Self.check(badHCRC, "bad header CRC").error == "corrupt gzip")
    }

    // MARK: - Fuzzing findings (Fuzz/Sources/gzip, docs/RELIABILITY.md)

    /// Streams that end inside a gzip header. zlib judges the magic number once it has two bytes
    /// and the method once it has four (method and flags); ISA-L waits for all ten, so the ISA-L
    /// decoder called "1F BF" truncated where zlib calls it corrupt.
    @Test(arguments: [
        ([0x1F, 0xBF], "corrupt gzip"),                      // the fuzzer's first input
        ([0x1F, 0x8B, 0xD9], "truncated gzip at 3"),         // its second: the method alone is not judged
        ([0x1F, 0x8B, 0xD9, 0x00], "corrupt gzip"),          // method and flags: judged
        ([0x1F, 0x8B, 0x08], "truncated gzip at 3"),
        ([0x1F, 0x8B, 0x08, 0x00, 0x00], "truncated gzip at 5"),
        ([0x1F, 0x00], "corrupt gzip"),
    ] as [([UInt8], String)])
    func headerCutShort(input: [UInt8], error: String) throws {
        #expect(try Self.check(input, "\(input)").error == error)
        // The same after a complete member.
        let member = try Self.gzip(Array("one".utf8))
        let after = try Self.check(member + input, "a member, then \(input)")
        #expect(after.bytes == Array("one".utf8) && after.members == 1)
        #expect(after.error == (error.hasPrefix("truncated") ? "truncated gzip at \(member.count + input.count)" : error))
    }

    /// Found by the gzip fuzz target: failing with "invalid distance too far back", ISA-L handed
    /// back more input than it had been given in that call, and the error named byte -4294967269.
    /// `decode` checks that a corrupt-data offset lies inside the input.
    @Test func corruptOffsetInsideTheInput() throws {
        let input: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xB5,
                              0x06, 0xC0, 0x2A, 0x1B, 0x4A, 0x4B, 0x8C, 0x61, 0xF1, 0x03, 0xC8, 0x77, 0x46]
        #expect(try Self.check(input, "distance too far back").error == "corrupt gzip")
        #expect(try Self.check(try Self.gzip(Self.text(3000)) + input, "after a member").error == "corrupt gzip")
    }

    /// Found by the gzip fuzz target, and kept as a known difference: a member whose dynamic block
    /// header is damaged and then cut short. zlib judges the code lengths as it reads them; ISA-L
    /// reads a block header only once it has all of it. So the first input ("invalid distances
    /// set") is corrupt to zlib and truncated to ISA-L, and the second (zero code lengths after
    /// 153 bytes of padding) is corrupt to ISA-L and truncated to zlib. Both decoders refuse both
    /// streams; only the kind of error differs, and only when the input ends there: with more
    /// bytes after the damage, both call it corrupt.
    @Test(arguments: [
        ([0x1F, 0x8B, 0x08, 0x08, 0x00, 0x00, 0x00, 0x00, 0x02, 0xFF, 0x70, 0x6C, 0x61, 0x69, 0x6E, 0x2E, 0x74,
          0x78, 0x74, 0x00, 0x45, 0x8F, 0x41, 0x6A, 0xC4, 0x30, 0x0C, 0x45, 0xF7, 0x39, 0xC5, 0x3F, 0xC0, 0x10,
          0x98, 0x4D, 0x17, 0x5D, 0x0E, 0x74, 0x31, 0xBB, 0x42, 0x0B, 0xA5, 0x4B, 0x8D, 0xAD, 0x44, 0x06, 0xC7,
          0x2A, 0x92, 0x93, 0x30, 0xB7, 0xAF, 0x12, 0x0A, 0xDD, 0xD8, 0x1F, 0x8B, 0x08, 0xD8, 0x00, 0x00, 0x00],
         Engine.isal),
        ([UInt8](repeating: 0, count: 153)
         + [0x1F, 0x8B, 0x08, 0x00, 0xFA, 0xFB, 0xFF, 0xFF, 0x00, 0x00, 0x04, 0x03] + [UInt8](repeating: 0, count: 14),
         Engine.zlib),
    ] as [([UInt8], Engine)])
    func damagedHeaderCutShort(input: [UInt8], truncatedFor: Engine) throws {
        for (inChunk, outChunk, bufferSize) in Self.standardReadings {
            let zlib = try Self.decode(input, engine: .zlib, inChunk: inChunk, outChunk: outChunk, bufferSize: bufferSize)
            let isal = try Self.decode(input, engine: .isal, inChunk: inChunk, outChunk: outChunk, bufferSize: bufferSize)
            let cut = "truncated gzip at \(input.count)"
            #expect(zlib.error == (truncatedFor == .zlib ? cut : "corrupt gzip"))
            #expect(isal.error == (truncatedFor == .isal ? cut : "corrupt gzip"))
            #expect(zlib.members == 0 && isal.members == 0)
        }
        let more = input + (0...255).map(UInt8.init) + (0...255).map(UInt8.init)
        #expect(try Self.check(more, "the damaged header, then more bytes").error == "corrupt gzip")
    }

    @Test func randomDamage() throws {
        let gz = try Self.gzip(Self.text(6000)) + Self.gzip(Self.random(300, seed: 9), level: 1)
        var g = TestRandom(seed: 42)
        for trial in 0..<400 {
            var bad = gz
            for _ in 0..<(1 + Int(g.next() % 3)) {
                bad[Int(g.next() % UInt64(bad.count))] ^= UInt8(1 + g.next() % 255)
            }
            let r = try Self.check(bad, "damage \(trial)", readings: [(1 << 30, 1 << 16, 1 << 17), (7, 5, 64)])
            // A changed byte that leaves the output intact can only be in the header's time or OS.
            if r.error == nil { #expect(r.bytes.count == 6300) }
        }
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }
}
