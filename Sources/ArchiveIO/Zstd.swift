import CZstd

/// Decompresses a zstd stream of one or more frames.
public final class ZstdDecoder: ByteSource {
    private let upstream: ByteSource
    private let dstream: OpaquePointer
    private let input: UnsafeMutableRawBufferPointer
    private var inBuf = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    private var upstreamRead: Int64 = 0
    private var upstreamEOF = false
    /// True while a frame has started and not ended.
    private var inFrame = false
    /// The first bytes of the current frame (up to a header's 18) and the bytes it has given, to
    /// check its header and declared content size at its end. libzstd 1.5.4 checks both itself
    /// when the frame comes whole, but not always when it comes in pieces: a frame holding only
    /// an empty last block, or whose header sets the reserved bit, read in small reads was an
    /// empty frame where read whole it was an error.
    private var frameHead: [UInt8] = []
    private var frameOutput: UInt64 = 0

    public var rawBytesConsumed: Int64 { upstreamRead - Int64(inBuf.size - inBuf.pos) }

    public init(_ upstream: ByteSource) throws {
        self.upstream = upstream
        guard let ds = ZSTD_createDStream() else {
            throw ArchiveIOError.library(name: "zstd", message: "ZSTD_createDStream failed")
        }
        dstream = ds
        input = .allocate(byteCount: ZSTD_DStreamInSize(), alignment: 16)
        ZSTD_initDStream(ds)
    }

    deinit {
        ZSTD_freeDStream(dstream)
        input.deallocate()
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let out = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var outBuf = ZSTD_outBuffer(dst: out, size: buffer.count, pos: 0)
        while outBuf.pos == 0 {
            if inBuf.pos == inBuf.size {
                if upstreamEOF {
                    if inFrame { throw ArchiveIOError.truncated(format: "zstd", offset: rawBytesConsumed) }
                    return 0
                }
                let n = try upstream.read(into: input)
                if n == 0 { upstreamEOF = true; continue }
                upstreamRead += Int64(n)
                inBuf = ZSTD_inBuffer(src: input.baseAddress, size: n, pos: 0)
            }
            inFrame = true
            let (inBefore, outBefore) = (inBuf.pos, outBuf.pos)
            let rc = ZSTD_decompressStream(dstream, &outBuf, &inBuf)
            if ZSTD_isError(rc) != 0 {
                throw ArchiveIOError.corrupt(format: "zstd", offset: rawBytesConsumed,
                                             message: String(cString: ZSTD_getErrorName(rc)))
            }
            if frameHead.count < 18 {
                let end = min(inBuf.pos, inBefore + 18 - frameHead.count)
                frameHead += UnsafeRawBufferPointer(rebasing: input[inBefore..<end])
            }
            frameOutput += UInt64(outBuf.pos - outBefore)
            if rc == 0 {
                inFrame = false
                try checkContentSize()
            }
        }
        return outBuf.pos
    }

    /// At the end of a frame: its header must be one libzstd reads, and its output the content
    /// size the header declares, if any.
    private func checkContentSize() throws {
        defer { frameHead.removeAll(keepingCapacity: true); frameOutput = 0 }
        // Only zstd frames (legacy and skippable ones have other magic numbers).
        guard frameHead.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) else { return }
        // The frame has ended, so its whole header (at most 18 bytes) is in frameHead.
        let declared = frameHead.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        let unknown = UInt64.max, invalid = UInt64.max - 1   // ZSTD_CONTENTSIZE_UNKNOWN, _ERROR
        if declared == invalid {
            throw ArchiveIOError.corrupt(format: "zstd", offset: rawBytesConsumed,
                                         message: "the frame header is not valid (reserved bits set?)")
        }
        guard declared != unknown, declared != frameOutput else { return }
        throw ArchiveIOError.corrupt(format: "zstd", offset: rawBytesConsumed,
                                     message: "the frame declares \(declared) bytes of content and holds \(frameOutput)")
    }
}

/// Compresses into one zstd frame with a content checksum, so that a damaged file is detected
/// when read back.
public final class ZstdEncoder: ByteSink {
    private let downstream: ByteSink
    private let cctx: OpaquePointer
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// `workers`: compression threads of zstd's own beside the caller's (`ZSTD_c_nbWorkers`);
    /// 0 compresses on the calling thread. With 1 the caller goes on producing input while the
    /// previous job compresses. The output is the same for every value from 1 up, but differs
    /// from that of 0; a zstd built without threads compresses on the calling thread.
    public init(_ downstream: ByteSink, level: Int32 = 3, workers: Int32 = 0) throws {
        self.downstream = downstream
        guard let c = ZSTD_createCCtx() else {
            throw ArchiveIOError.library(name: "zstd", message: "ZSTD_createCCtx failed")
        }
        cctx = c
        output = .allocate(byteCount: ZSTD_CStreamOutSize(), alignment: 16)
        ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)
        if workers > 0 { ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers) }
    }

    deinit {
        ZSTD_freeCCtx(cctx)
        output.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count > 0 else { return }
        var inBuf = ZSTD_inBuffer(src: bytes.baseAddress, size: bytes.count, pos: 0)
        while inBuf.pos < inBuf.size {
            try step(&inBuf, ZSTD_e_continue)
        }
    }

    public func finish() throws {
        guard !finished else { return }
        finished = true
        var inBuf = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&inBuf, ZSTD_e_end) != 0 {}
        try downstream.finish()
    }

    @discardableResult
    private func step(_ inBuf: inout ZSTD_inBuffer, _ mode: ZSTD_EndDirective) throws -> Int {
        var outBuf = ZSTD_outBuffer(dst: output.baseAddress, size: output.count, pos: 0)
        let rc = ZSTD_compressStream2(cctx, &outBuf, &inBuf, mode)
        if ZSTD_isError(rc) != 0 {
            throw ArchiveIOError.library(name: "zstd", message: String(cString: ZSTD_getErrorName(rc)))
        }
        if outBuf.pos > 0 {
            try downstream.write(UnsafeRawBufferPointer(rebasing: output[0..<outBuf.pos]))
        }
        return rc
    }
}
