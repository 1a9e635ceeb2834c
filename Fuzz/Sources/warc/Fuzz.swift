// WARC records as ingest reads them (a decompressed stream through a BufferedReader, ingest's
// block limit of 4 × --max-document-size), each response block parsed as HTTP and its HTML made
// into text. Every failure must be a WARCError (or an ArchiveIOError from the byte layer).
import ArchiveIO
import DataPrep
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    // A small buffer, so that lines and blocks straddle refills.
    let warc = WARCReader(BufferedReader(MemorySource(bytes), capacity: 512), maxBlockBytes: 4 * (64 << 20))
    var records = 0
    while records < 10_000 {
        records += 1
        do {
            guard let record = try warc.next() else { break }
            _ = record.type
            if let http = HTTPResponse.parse(record.block) {
                _ = http.mediaType
                _ = http.charset
                _ = HTMLText.extract(http.body)
            }
        } catch let e as WARCError {
            if case .tooLarge = e { continue }
            break
        } catch is ArchiveIOError {
            break
        } catch {
            fatalError("not a WARCError: \(error)")
        }
    }
    return 0
}
