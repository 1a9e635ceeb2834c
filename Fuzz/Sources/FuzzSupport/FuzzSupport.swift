// What the fuzz targets share: the input as bytes, an input cut in two, a scratch file for the
// entry points that take a path, and a bounded read of a decoder.
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

/// Reads `source` to its end or to `limit` bytes, in reads of `chunk` bytes. The limit stands in
/// for ingest's size and ratio limits: a small input may inflate without bound.
public func drain(_ source: ByteSource, limit: Int = 1 << 22, chunk: Int = 1 << 16) throws -> [UInt8] {
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: chunk)
    while out.count < limit {
        let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        if n == 0 { break }
        out += buffer[0..<n]
    }
    return out
}
