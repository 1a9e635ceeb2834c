// gzip streams, differential: ISA-L's decoder (GzipDecoder, what ingest uses) against zlib's
// (ZlibGzipDecoder, the reference), read two ways. As in GzipReferenceTests: the same bytes (on a
// damaged stream, the bytes each gave before the error agree), the same kind of error (and
// offset, for a truncation), the same member count and last member offset.
import ArchiveIO
import FuzzSupport

struct Outcome: Equatable {
    var bytes: [UInt8]
    var error: String?
    var members: Int
    var memberStart: Int64
    var hitLimit: Bool
}

func decode(_ input: [UInt8], isal: Bool, inChunk: Int, outChunk: Int, bufferSize: Int) -> Outcome {
    let source = ChunkedSource(input, chunk: inChunk)
    let decoder: ByteSource
    let members: () -> (Int, Int64)
    do {
        if isal {
            let d = try GzipDecoder(source, bufferSize: bufferSize)
            decoder = d
            members = { (d.membersCompleted, d.memberStart) }
        } else {
            let d = try ZlibGzipDecoder(source, bufferSize: bufferSize)
            decoder = d
            members = { (d.membersCompleted, d.memberStart) }
        }
    } catch {
        fatalError("cannot make a decoder: \(error)")
    }
    let (out, failure) = drainKeepingBytes(decoder, chunk: outChunk)
    var error: String?
    switch failure {
    case nil:
        break
    case let ArchiveIOError.truncated(format, offset)?:
        error = "truncated \(format) at \(offset)"
    case let ArchiveIOError.corrupt(format, offset, _)?:
        precondition(offset >= 0 && offset <= Int64(input.count), "corrupt-data offset \(offset) outside the input")
        error = "corrupt \(format)"
    case let other?:
        fatalError("\(isal ? "ISA-L" : "zlib") decoder threw \(other)")
    }
    let (count, start) = members()
    return Outcome(bytes: out, error: error, members: count, memberStart: start, hitLimit: out.count >= drainLimit)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    for (inChunk, outChunk, bufferSize) in [(1 << 30, 1 << 16, 1 << 17), (7, 1000, 64)] {
        let reference = decode(bytes, isal: false, inChunk: inChunk, outChunk: outChunk, bufferSize: bufferSize)
        let got = decode(bytes, isal: true, inChunk: inChunk, outChunk: outChunk, bufferSize: bufferSize)
        let n = min(got.bytes.count, reference.bytes.count)
        precondition(got.bytes.prefix(n) == reference.bytes.prefix(n),
                     "ISA-L and zlib give different bytes (read \(inChunk)/\(outChunk)/\(bufferSize))")
        if got.hitLimit || reference.hitLimit { continue }
        if got.error == nil && reference.error == nil {
            precondition(got.bytes.count == reference.bytes.count, "ISA-L gave \(got.bytes.count) bytes, zlib \(reference.bytes.count)")
        }
        // Known difference: when the input ends inside a damaged dynamic block header, the two
        // decoders judge the header at different points (ISA-L reads it only once it has all of
        // it, zlib code length by code length), so one may call the stream truncated at the end of
        // the input where the other calls it corrupt. Both refuse it.
        // GzipReferenceTests.damagedHeaderCutShort pins both directions.
        let cut = "truncated gzip at \(bytes.count)"
        if (got.error == cut && reference.error == "corrupt gzip") || (got.error == "corrupt gzip" && reference.error == cut) {
            continue
        }
        precondition(got.error == reference.error,
                     "ISA-L: \(got.error ?? "no error"), zlib: \(reference.error ?? "no error") (read \(inChunk)/\(outChunk)/\(bufferSize))")
        precondition(got.members == reference.members && got.memberStart == reference.memberStart,
                     "ISA-L: \(got.members) members, last at \(got.memberStart); zlib: \(reference.members), last at \(reference.memberStart)")
    }
    return 0
}
