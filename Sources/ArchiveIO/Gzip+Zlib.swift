import CZlib

/// The reference gzip decoder: zlib's `inflate`, the slow and obviously right version of
/// `GzipDecoder`, which the tests hold the ISA-L decoder to (same bytes, same members, same
/// errors). Nothing in the pipeline uses it.
///
/// zlib's `z_stream` keeps a pointer back to itself, so it lives in its own allocation and never
/// moves. zlib is asked for gzip framing with `windowBits = 15 + 16`.
public final class ZlibGzipDecoder: ByteSource {
    private let upstream: ByteSource
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var upstreamRead: Int64 = 0
    private var upstreamEOF = false
    private var inMember = false
    /// Compressed offset where the member being decoded (or the last one) began.
    public private(set) var memberStart: Int64 = 0
    /// Members fully decoded so far.
    public private(set) var membersCompleted = 0

    public var rawBytesConsumed: Int64 { upstreamRead - Int64(stream.pointee.avail_in) }

    public init(_ upstream: ByteSource, bufferSize: Int = 1 << 17) throws {
        self.upstream = upstream
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(byteCount: bufferSize, alignment: 16)
        let rc = kiln_inflateInit2(stream, 15 + 16)
        // On failure deinit frees the buffers (it runs for a throwing init of a class).
        guard rc == Z_OK else {
            throw ArchiveIOError.library(name: "zlib", message: "inflateInit2 failed (\(rc))")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
        let s = stream
        s.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
        s.pointee.avail_out = UInt32(min(buffer.count, Int(UInt32.max)))
        let requested = Int(s.pointee.avail_out)
        while Int(s.pointee.avail_out) == requested {
            if s.pointee.avail_in == 0 {
                if upstreamEOF {
                    if inMember { throw ArchiveIOError.truncated(format: "gzip", offset: rawBytesConsumed) }
                    return 0
                }
                let n = try upstream.read(into: input)
                if n == 0 { upstreamEOF = true; continue }
                upstreamRead += Int64(n)
                s.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                s.pointee.avail_in = UInt32(n)
            }
            if !inMember {
                let first = s.pointee.next_in.pointee
                if first == 0 {
                    // Zero padding after the last member (tape blocking); skip it.
                    s.pointee.next_in += 1
                    s.pointee.avail_in -= 1
                    continue
                }
                if first != 0x1F {
                    throw ArchiveIOError.corrupt(format: "gzip", offset: rawBytesConsumed,
                                                 message: "data after the last gzip member is not gzip")
                }
                inMember = true
                memberStart = rawBytesConsumed
            }
            let rc = inflate(s, Z_NO_FLUSH)
            switch rc {
            case Z_STREAM_END:
                inMember = false
                membersCompleted += 1
                inflateReset(s)
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_DATA_ERROR, Z_NEED_DICT:
                let message = s.pointee.msg.map { String(cString: $0) } ?? "invalid deflate data"
                throw ArchiveIOError.corrupt(format: "gzip", offset: rawBytesConsumed, message: message)
            default:
                throw ArchiveIOError.library(name: "zlib", message: "inflate failed (\(rc))")
            }
        }
        return requested - Int(s.pointee.avail_out)
    }
}
