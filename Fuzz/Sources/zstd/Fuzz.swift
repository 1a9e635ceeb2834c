// zstd streams through ZstdDecoder (what ingest uses for .zst and .jsonl.zst), read whole and in
// 7-byte pieces: the same bytes either way, and every failure an ArchiveIOError.
import ArchiveIO
import FuzzSupport

/// Hands out at most `chunk` bytes per read.
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

let limit = 1 << 22

/// The decoded bytes, and whether the stream was refused.
func decode(_ bytes: [UInt8], inChunk: Int, outChunk: Int) -> (bytes: [UInt8], failed: Bool) {
    var out: [UInt8] = []
    do {
        let decoder = try ZstdDecoder(ChunkedSource(bytes, chunk: inChunk))
        var buffer = [UInt8](repeating: 0, count: outChunk)
        while out.count < limit {
            let n = try buffer.withUnsafeMutableBytes { try decoder.read(into: $0) }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        return (out, false)
    } catch is ArchiveIOError {
        return (out, true)
    } catch {
        fatalError("not an ArchiveIOError: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    let whole = decode(bytes, inChunk: 1 << 30, outChunk: 1 << 16)
    let pieces = decode(bytes, inChunk: 7, outChunk: 1000)
    let n = min(whole.bytes.count, pieces.bytes.count)
    precondition(whole.bytes.prefix(n) == pieces.bytes.prefix(n), "the bytes depend on the size of the reads")
    if whole.bytes.count < limit && pieces.bytes.count < limit {
        precondition(whole.failed == pieces.failed, "an error depends on the size of the reads")
        if !whole.failed { precondition(whole.bytes == pieces.bytes, "a complete stream depends on the size of the reads") }
    }
    return 0
}
