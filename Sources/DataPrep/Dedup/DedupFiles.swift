#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors of the dedup engine. Each names the file it concerns, so a bad task folder or a
/// truncated run is reported where it is.
public enum DedupError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A system call failed on `path`.
    case io(path: String, operation: String, errno: Int32)
    /// A file is not what its header says: wrong magic, version, size or order.
    case corrupt(path: String, message: String)
    /// The options, or the set of task folders, cannot be used.
    case invalid(String)

    public var description: String {
        switch self {
        case let .io(path, operation, errno):
            return "\(path): \(operation) failed: \(String(cString: strerror(errno)))"
        case let .corrupt(path, message):
            return "\(path): \(message)"
        case let .invalid(message):
            return message
        }
    }
}

/// The thin layer of POSIX calls under the dedup files. Every binary file of the engine starts
/// with an 8-byte ASCII magic and a little-endian UInt32 version, and its size is checked
/// against the counts in its header before any record is trusted.
enum DedupIO {
    static var isLittleEndian: Bool { 1.littleEndian == 1 }

    static func create(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw DedupError.io(path: path, operation: "create", errno: errno) }
        return fd
    }

    static func openRead(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw DedupError.io(path: path, operation: "open", errno: errno) }
        return fd
    }

    static func size(_ fd: Int32, path: String) throws -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DedupError.io(path: path, operation: "stat", errno: errno) }
        return Int64(st.st_size)
    }

    /// Writes all of `bytes` at the file's position.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = write(fd, p, left)
            if n < 0 {
                if errno == EINTR { continue }
                throw DedupError.io(path: path, operation: "write", errno: errno)
            }
            p += n
            left -= n
        }
    }

    /// Writes all of `bytes` at `offset`, leaving the file position alone.
    static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, path: String) throws {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = offset
        while left > 0 {
            let n = pwrite(fd, p, left, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw DedupError.io(path: path, operation: "write", errno: errno)
            }
            p += n
            left -= n
            at += Int64(n)
        }
    }

    /// Reads exactly `buffer.count` bytes at `offset`; a short file is corrupt.
    static func preadAll(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, at offset: Int64, path: String) throws {
        guard var p = buffer.baseAddress else { return }
        var left = buffer.count
        var at = offset
        while left > 0 {
            let n = pread(fd, p, left, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw DedupError.io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { throw DedupError.corrupt(path: path, message: "the file ends at byte \(at), before the data its header promises") }
            p += n
            left -= n
            at += Int64(n)
        }
    }

    /// Reads up to `buffer.count` bytes at the file position; returns how many (0 at the end).
    static func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        guard let p = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var got = 0
        while got < buffer.count {
            let n = read(fd, p + got, buffer.count - got)
            if n < 0 {
                if errno == EINTR { continue }
                throw DedupError.io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { break }
            got += n
        }
        return got
    }

    static func remove(_ path: String) {
        _ = unlink(path)
    }

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw DedupError.io(path: path, operation: "mkdir", errno: errno)
        }
    }

    /// A new empty folder `parent/label-XXXXXX`.
    static func makeTemporaryDirectory(in parent: String, label: String) throws -> String {
        var template = Array("\(parent)/\(label)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf -> Bool in
            guard let base = buf.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        guard made else { throw DedupError.io(path: parent, operation: "mkdtemp", errno: errno) }
        return String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func removeDirectory(_ path: String) {
        _ = rmdir(path)
    }
}

/// A little-endian header built or parsed field by field.
struct DedupHeaderBytes {
    var bytes: [UInt8]
    private var cursor = 0

    init(magic: String) {
        precondition(magic.utf8.count == 8)
        bytes = Array(magic.utf8)
    }

    init(reading bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func append(_ v: UInt32) { DedupIO.appendLE(v, to: &bytes) }

    mutating func append(_ v: UInt64) { DedupIO.appendLE(v, to: &bytes) }

    mutating func pad(to size: Int) {
        precondition(bytes.count <= size)
        bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
    }

    /// Checks the magic and moves past it.
    mutating func expectMagic(_ magic: String) -> Bool {
        cursor = 8
        return bytes.count >= 8 && Array(bytes[0..<8]) == Array(magic.utf8)
    }

    mutating func u32() -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[cursor + k]) << (8 * k) }
        cursor += 4
        return v
    }

    mutating func u64() -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[cursor + k]) << (8 * k) }
        cursor += 8
        return v
    }
}

extension DedupIO {
    @inline(__always)
    static func appendLE(_ v: UInt64, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func appendLE(_ v: UInt32, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inline(__always)
    static func loadLE64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    static func loadLE32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Reads the first `size` bytes of a file; a shorter file is corrupt.
    static func readHeader(_ fd: Int32, size: Int, path: String) throws -> [UInt8] {
        var header = [UInt8](repeating: 0, count: size)
        try header.withUnsafeMutableBytes { try preadAll(fd, $0, at: 0, path: path) }
        return header
    }
}
