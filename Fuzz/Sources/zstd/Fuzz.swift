// zstd streams through ZstdDecoder (what ingest uses for .zst and .jsonl.zst), read whole and in
// 7-byte pieces: the same bytes either way, the same verdict (but for one known difference, below),
// and every failure an ArchiveIOError.
import ArchiveIO
import FuzzSupport

/// The decoded bytes (up to an error, if any), and whether the stream was refused.
func decode(_ bytes: [UInt8], inChunk: Int, outChunk: Int) -> (bytes: [UInt8], failed: Bool) {
    let decoder: ZstdDecoder
    do {
        decoder = try ZstdDecoder(ChunkedSource(bytes, chunk: inChunk))
    } catch is ArchiveIOError {
        return ([], true)
    } catch {
        fatalError("not an ArchiveIOError: \(error)")
    }
    let (out, failure) = drainKeepingBytes(decoder, chunk: outChunk)
    if let failure, !(failure is ArchiveIOError) { fatalError("not an ArchiveIOError: \(failure)") }
    return (out, failure != nil)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    let whole = decode(bytes, inChunk: 1 << 30, outChunk: 1 << 16)
    let pieces = decode(bytes, inChunk: 7, outChunk: 1000)
    let n = min(whole.bytes.count, pieces.bytes.count)
    precondition(whole.bytes.prefix(n) == pieces.bytes.prefix(n), "the bytes depend on the size of the reads")
    if whole.bytes.count < drainLimit && pieces.bytes.count < drainLimit {
        // Known difference (libzstd 1.5.4): a frame that declares its size and arrives whole
        // takes a one-shot path, which accepts an empty RLE block that the streaming path, in
        // pieces, calls corrupt. So the read in pieces may refuse where the whole read goes on;
        // what it gave before refusing is a prefix of the whole read's bytes (checked above).
        // The other way round, a read in pieces accepting what the whole read refuses, stays a
        // finding. ZstdTests.anEmptyRLEBlockIsJudgedByHowTheFrameArrives pins it.
        if !whole.failed && pieces.failed { return 0 }
        precondition(whole.failed == pieces.failed, "an error depends on the size of the reads")
        if !whole.failed { precondition(whole.bytes == pieces.bytes, "a complete stream depends on the size of the reads") }
    }
    return 0
}
