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
            let rc = ZSTD_decompressStream(dstream, &outBuf, &inBuf)
            if ZSTD_isError(rc) != 0 {
                throw ArchiveIOError.corrupt(format: "zstd", offset: rawBytesConsumed,
                                             message: String(cString: ZSTD_getErrorName(rc)))
            }
            if rc == 0 { inFrame = false }
        }
        return outBuf.pos
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
