// What the fuzz targets share: the input as bytes, an input cut in two, a scratch file for the
// entry points that take a path and the file it writes back, and a decoder's bounded read of
// bytes handed out in pieces.
import ArchiveIO

#if canImport(Glibc)
import Glibc
#endif

/// The fuzzer's input as an array.
public func input(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// The input cut at its first NUL byte into two files (vocab.json and merges.txt, a shard and
/// its index); without a NUL the second part is empty.
public func split(_ bytes: [UInt8]) -> ([UInt8], [UInt8]) {
    guard let nul = bytes.firstIndex(of: 0) else { return (bytes, []) }
    return (Array(bytes[..<nul]), Array(bytes[(nul + 1)...]))
}

/// A scratch folder of this process in /dev/shm (memory, not disk), for entry points that take
/// a path.
public let scratchDirectory: String = {
    let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    let dir = "\(base)/kiln-fuzz-\(getpid())"
    mkdir(dir, 0o700)
    atexit { _ = rmdir(scratchDirectory) }
    return dir
}()

/// Writes `bytes` to `name` in the scratch folder and returns its path.
@discardableResult
public func scratchFile(_ name: String, _ bytes: [UInt8]) -> String {
    let path = scratchDirectory + "/" + name
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot create \(path)")
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
        precondition(n > 0, "cannot write \(path)")
        done += n
    }
    close(fd)
    return path
}

/// Removes a scratch file (missing is fine).
public func removeScratchFile(_ name: String) { unlink(scratchDirectory + "/" + name) }

/// The contents of a file (a scratch file written back by the code under test).
public func fileBytes(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { return [] }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        out += chunk[0..<n]
        if n < chunk.count { return out }
    }
}

/// Hands out at most `chunk` bytes per read, so that headers and trailers straddle refills.
public final class ChunkedSource: ByteSource {
    let bytes: [UInt8]
    let chunk: Int
    var offset = 0
    public var rawBytesConsumed: Int64 { Int64(offset) }
    public init(_ bytes: [UInt8], chunk: Int) { self.bytes = bytes; self.chunk = chunk }
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, chunk, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
        offset += n
        return n
    }
}

/// The most a decoder target reads from one input: it stands in for ingest's size and ratio
/// limits, since a small input may inflate without bound.
public let drainLimit = 1 << 22

/// Reads `source` to its end or to `limit` bytes, in reads of `chunk` bytes.
public func drain(_ source: ByteSource, limit: Int = drainLimit, chunk: Int = 1 << 16) throws -> [UInt8] {
    let (bytes, error) = drainKeepingBytes(source, limit: limit, chunk: chunk)
    if let error { throw error }
    return bytes
}

/// Reads `source` as `drain` does and stops at its first error, keeping the bytes it gave before
/// it: the decode loop of the gzip and zstd targets, which compare two decoders (or two read
/// sizes) up to the damage.
public func drainKeepingBytes(_ source: ByteSource, limit: Int = drainLimit,
                              chunk: Int = 1 << 16) -> (bytes: [UInt8], error: Error?) {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: chunk)
    while out.count < limit {
        do {
            let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            out += buffer[0..<n]
        } catch {
            return (out, error)
        }
    }
    return (out, nil)
}
