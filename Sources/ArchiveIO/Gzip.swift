import CIsal
import CZlib

/// Decompresses gzip data, including files of several gzip members one after another
/// (`.warc.gz` stores one record per member, as Common Crawl does), with Intel ISA-L's igzip,
/// which inflates two to three times faster than zlib. `ZlibGzipDecoder` is its reference.
///
/// ISA-L parses each member's header and checks its CRC32 and ISIZE (`ISAL_GZIP`); this class
/// walks from member to member, skips zero padding after the last one, and turns every failure
/// into an `ArchiveIOError` naming the compressed byte offset. Memory is bounded: ISA-L's state
/// (about 85 KiB, with its 32 KiB history) and one input buffer.
public final class GzipDecoder: ByteSource {
    private let upstream: ByteSource
    /// ISA-L's `inflate_state`, opaque to Swift (see CIsal/shim.h).
    private let state: UnsafeMutableRawPointer
    private var input: UnsafeMutableRawBufferPointer
    /// The input bytes not yet given to ISA-L are `input[inStart..<inEnd]`.
    private var inStart = 0
    private var inEnd = 0
    private var upstreamRead: Int64 = 0
    private var upstreamEOF = false
    private var inMember = false
    /// Compressed offset where the member being decoded (or the last one) began.
    public private(set) var memberStart: Int64 = 0
    /// Members fully decoded so far.
    public private(set) var membersCompleted = 0

    public var rawBytesConsumed: Int64 { upstreamRead - Int64(inEnd - inStart) }

    public init(_ upstream: ByteSource, bufferSize: Int = 1 << 17) throws {
        self.upstream = upstream
        // At least a gzip header's fixed part, so that its flags can be checked in one piece.
        input = .allocate(byteCount: max(bufferSize, 64), alignment: 16)
        guard let s = kiln_isal_gzip_new() else {
            input.deallocate()
            throw ArchiveIOError.library(name: "isa-l", message: "cannot allocate the inflate state")
        }
        state = s
    }

    deinit {
        kiln_isal_free(state)
        input.deallocate()
    }

    /// Moves the unread bytes to the front and reads once more; sets `upstreamEOF` at the end.
    private func refill() throws {
        let left = inEnd - inStart
        if inStart > 0 {
            if left > 0 { input.baseAddress!.copyMemory(from: input.baseAddress! + inStart, byteCount: left) }
            inStart = 0
            inEnd = left
        }
        guard inEnd < input.count else { return }
        let n = try upstream.read(into: UnsafeMutableRawBufferPointer(rebasing: input[inEnd...]))
        if n == 0 { upstreamEOF = true; return }
        upstreamRead += Int64(n)
        inEnd += n
    }

    /// Starts a member at `input[inStart]` (a 0x1F byte) and makes its whole header available.
    ///
    /// ISA-L 2.30 keeps what it has parsed of a gzip header in a local variable of `isal_inflate`:
    /// a header split across two calls is misread (the flags are forgotten after a file name, the
    /// header CRC is computed over the last piece only). So ISA-L is handed the whole header at
    /// once, growing the buffer for a long name or extra field, up to `maxHeaderSize`.
    private func beginMember() throws {
        inMember = true
        memberStart = rawBytesConsumed
        while Self.headerLength(UnsafeRawBufferPointer(rebasing: input[inStart..<inEnd])) == nil && !upstreamEOF {
            if inStart == 0 && inEnd == input.count {
                guard input.count < Self.maxHeaderSize else {
                    throw ArchiveIOError.corrupt(format: "gzip", offset: memberStart,
                                                 message: "gzip header longer than \(Self.maxHeaderSize) bytes")
                }
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count * 2, alignment: 16)
                bigger.baseAddress!.copyMemory(from: input.baseAddress!, byteCount: inEnd)
                input.deallocate()
                input = bigger
            }
            try refill()
        }
        // zlib checks the magic number once it has its two bytes, and the method once it has the
        // method and flags bytes; ISA-L waits for the whole 10-byte header, so a stream that ends
        // inside the header was reported as truncated where zlib calls it corrupt (found by the
        // gzip fuzz target: "1F BF"). Checked here, with zlib's byte counts.
        if inEnd - inStart >= 2 && input[inStart + 1] != 0x8B {
            throw ArchiveIOError.corrupt(format: "gzip", offset: rawBytesConsumed + 1, message: "incorrect header check")
        }
        if inEnd - inStart >= 4 && input[inStart + 2] != 8 {
            throw ArchiveIOError.corrupt(format: "gzip", offset: rawBytesConsumed + 2, message: "unknown compression method")
        }
        // zlib refuses a header with reserved flag bits set and ISA-L ignores them: checked here,
        // so both decoders reject the same files.
        if inEnd - inStart >= 4 && input[inStart + 3] & 0xE0 != 0 {
            throw ArchiveIOError.corrupt(format: "gzip", offset: rawBytesConsumed + 3, message: "unknown header flags set")
        }
    }

    static let maxHeaderSize = 1 << 20

    /// The length of the gzip header at the start of `b` (RFC 1952, 2.3), or nil when `b` ends
    /// inside it. A wrong magic number counts as complete: ISA-L reports it.
    static func headerLength(_ b: UnsafeRawBufferPointer) -> Int? {
        if b.count >= 2 && b[1] != 0x8B { return 0 }
        guard b.count >= 10 else { return nil }
        let flags = b[3]
        var pos = 10
        if flags & 0x04 != 0 {  // FEXTRA: two-byte length, then that many bytes
            guard b.count >= pos + 2 else { return nil }
            pos += 2 + (Int(b[pos]) | Int(b[pos + 1]) << 8)
        }
        for bit: UInt8 in [0x08, 0x10] where flags & bit != 0 {  // FNAME, FCOMMENT: zero-terminated
            guard pos < b.count, let nul = b[pos...].firstIndex(of: 0) else { return nil }
            pos = nul + 1
        }
        if flags & 0x02 != 0 { pos += 2 }  // FHCRC
        return pos <= b.count ? pos : nil
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let requested = UInt32(min(buffer.count, Int(UInt32.max)))
        var produced = 0
        while produced == 0 {
            if !inMember {
                if inStart == inEnd {
                    if upstreamEOF { return 0 }
                    try refill()
                    continue
                }
                let first = input[inStart]
                if first == 0 {
                    // Zero padding after the last member (tape blocking); skip it.
                    inStart += 1
                    continue
                }
                if first != 0x1F {
                    throw ArchiveIOError.corrupt(format: "gzip", offset: rawBytesConsumed,
                                                 message: "data after the last gzip member is not gzip")
                }
                try beginMember()
            }
            let offered = UInt32(inEnd - inStart)
            var availIn = offered
            var availOut = requested
            var finished: Int32 = 0
            var unread: UInt32 = 0
            let rc = kiln_isal_inflate(state, input.baseAddress!.assumingMemoryBound(to: UInt8.self) + inStart,
                                       &availIn, out.assumingMemoryBound(to: UInt8.self), &availOut,
                                       &finished, &unread)
            if rc != ISAL_DECOMP_OK {
                // On some errors ISA-L hands back more input than it was given (it winds back over
                // bits it had buffered from earlier calls, and the count wraps: the error named byte
                // -4294967269, found by the gzip fuzz target). The offset is then where this call began.
                if availIn <= offered { inStart = inEnd - Int(availIn) }
                throw ArchiveIOError.corrupt(format: "gzip", offset: rawBytesConsumed, message: Self.message(rc))
            }
            guard availIn <= offered, availOut <= requested else {
                throw ArchiveIOError.library(name: "isa-l", message: "isal_inflate returned more room than it was given")
            }
            inStart = inEnd - Int(availIn)
            produced = Int(requested - availOut)
            if finished != 0 {
                // Bytes ISA-L read past the trailer belong to what follows; they are still in
                // `input` when they came in this call.
                guard Int(unread) <= Int(offered - availIn) else {
                    throw ArchiveIOError.library(name: "isa-l", message: "read \(unread) bytes past a member's end")
                }
                inStart -= Int(unread)
                inMember = false
                membersCompleted += 1
                kiln_isal_gzip_reset(state)
                continue
            }
            if produced > 0 { break }
            if inStart == inEnd {
                // ISA-L has used all it was given. At the end of the input, a call that was given
                // nothing and gave nothing means the member is cut short.
                if upstreamEOF {
                    if offered == 0 { throw ArchiveIOError.truncated(format: "gzip", offset: rawBytesConsumed) }
                    continue
                }
                try refill()
            } else if availIn == offered {
                throw ArchiveIOError.library(name: "isa-l", message: "isal_inflate made no progress")
            }
        }
        return produced
    }

    /// zlib's wording where there is one, so that issues read the same whichever decoder ran.
    private static func message(_ rc: Int32) -> String {
        switch rc {
        case ISAL_INVALID_BLOCK: return "invalid block type or stored block length"
        case ISAL_INVALID_SYMBOL: return "invalid code"
        case ISAL_INVALID_LOOKBACK: return "invalid distance too far back"
        case ISAL_INVALID_WRAPPER: return "incorrect header check"
        case ISAL_UNSUPPORTED_METHOD: return "unknown compression method"
        case ISAL_INCORRECT_CHECKSUM: return "incorrect data or length check"
        default: return "isal_inflate failed (\(rc))"
        }
    }
}

/// Compresses into one gzip member.
public final class GzipEncoder: ByteSink {
    private let downstream: ByteSink
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    public init(_ downstream: ByteSink, level: Int32 = 6, bufferSize: Int = 1 << 17) throws {
        self.downstream = downstream
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(byteCount: bufferSize, alignment: 16)
        let rc = kiln_deflateInit2(stream, level, 15 + 16)
        guard rc == Z_OK else {
            throw ArchiveIOError.library(name: "zlib", message: "deflateInit2 failed (\(rc))")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = UInt32(bytes.count)
        try pump(flush: Z_NO_FLUSH)
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        try pump(flush: Z_FINISH)
        try downstream.finish()
    }

    private func pump(flush: Int32) throws {
        while true {
            stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = UInt32(output.count)
            let rc = deflate(stream, flush)
            guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                throw ArchiveIOError.library(name: "zlib", message: "deflate failed (\(rc))")
            }
            let produced = output.count - Int(stream.pointee.avail_out)
            if produced > 0 {
                try downstream.write(UnsafeRawBufferPointer(rebasing: output[0..<produced]))
            }
            if flush == Z_FINISH {
                if rc == Z_STREAM_END { return }
            } else if stream.pointee.avail_in == 0 && stream.pointee.avail_out > 0 {
                return
            }
        }
    }
}
