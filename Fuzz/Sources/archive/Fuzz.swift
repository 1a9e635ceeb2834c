// Archive members through libarchive, as ingest reads them: an archive held in memory (a nested
// member), the same bytes streamed from a source (a tar inside a decompressed stream), and
// libarchive's raw decoder (a single compressed file). Every failure must be an ArchiveIOError.
import ArchiveIO
import FuzzSupport

/// Every entry's data, at most `budget` bytes in all.
func walk(_ reader: ArchiveReader, budget: Int = 1 << 22) throws {
    var left = budget
    var entries = 0
    while left > 0, entries < 10_000, let entry = try reader.nextEntry() {
        entries += 1
        _ = entry.path
        left -= try drain(reader, limit: left).count
    }
}

func expectArchiveError(_ body: () throws -> Void) {
    do { try body() } catch is ArchiveIOError {} catch {
        fatalError("not an ArchiveIOError: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    expectArchiveError { try walk(try ArchiveReader(bytes: bytes, name: "fuzz")) }
    expectArchiveError { try walk(try ArchiveReader(source: MemorySource(bytes), name: "fuzz")) }
    expectArchiveError { _ = try drain(try ArchiveReader.rawDecoder(MemorySource(bytes), name: "fuzz")) }
    return 0
}
