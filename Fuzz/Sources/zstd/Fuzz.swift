// zstd streams through ZstdDecoder (what ingest uses for .zst and .jsonl.zst), read whole and in
// 7-byte pieces: the same bytes either way, and every failure an ArchiveIOError.
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
        precondition(whole.failed == pieces.failed, "an error depends on the size of the reads")
        if !whole.failed { precondition(whole.bytes == pieces.bytes, "a complete stream depends on the size of the reads") }
    }
    return 0
}
