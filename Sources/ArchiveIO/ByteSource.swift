#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors of the byte layer. Every one names where it happened, so the caller can report the
/// input, the member and the byte offset.
public enum ArchiveIOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A system call failed on `path`.
    case io(path: String, operation: String, errno: Int32)
    /// The data is not valid for `format` at compressed byte `offset`.
    case corrupt(format: String, offset: Int64, message: String)
    /// The stream ended at byte `offset`, in the middle of a `format` unit (member, frame, entry).
    case truncated(format: String, offset: Int64)
    /// A C library refused an operation that should not fail (out of memory, bad parameter).
    case library(name: String, message: String)
    /// The file at `path` ended at byte `endedAt`, before the size it had when it was opened: it
    /// was truncated while being read.
    case shrank(path: String, sizeWhenOpened: Int64, endedAt: Int64)

    public var description: String {
        switch self {
        case let .io(path, operation, errno):
            return "\(path): \(operation) failed: \(String(cString: strerror(errno)))"
        case let .corrupt(format, offset, message):
            return "corrupt \(format) data at byte \(offset): \(message)"
        case let .truncated(format, offset):
            return "truncated \(format) data: the input ends at byte \(offset) in the middle of a unit"
        case let .library(name, message):
            return "\(name): \(message)"
        case let .shrank(path, size, end):
            return "\(path): the file was truncated while being read: it had \(size) bytes when opened and ended at byte \(end)"
        }
    }
}

/// A pull stream of bytes. `read` returns 0 only at the end of the stream.
///
/// Sources are classes because they own C handles and are chained (a zstd stream over a file):
/// each one pulls from the one below.
public protocol ByteSource: AnyObject {
    /// Fills at most `buffer.count` bytes and returns how many; 0 means end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Bytes of the underlying file consumed so far (compressed bytes for a decoder), used for
    /// error offsets and compression-ratio limits.
    var rawBytesConsumed: Int64 { get }
}

/// A file read with POSIX `read`, in whatever chunks the caller asks for.
public final class FileSource: ByteSource {
    public let path: String
    private let fd: Int32
    public private(set) var rawBytesConsumed: Int64 = 0
    /// Sees every chunk read, in order (to hash the file in the same pass).
    public var observer: ((UnsafeRawBufferPointer) -> Void)?

    /// The size of a regular file when it was opened (nil for pipes and devices): a file that ends
    /// before it is a file cut short while being read, an error rather than a shorter input.
    public let sizeWhenOpened: Int64?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiveIOError.io(path: path, operation: "open", errno: errno) }
        self.fd = fd
        var st = stat()
        sizeWhenOpened = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil
    }

    deinit { close(fd) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n == 0, let size = sizeWhenOpened, rawBytesConsumed < size {
                throw ArchiveIOError.shrank(path: path, sizeWhenOpened: size, endedAt: rawBytesConsumed)
            }
            if n >= 0 {
                rawBytesConsumed += Int64(n)
                if n > 0, let observer { observer(UnsafeRawBufferPointer(start: base, count: n)) }
                return n
            }
            if errno == EINTR { continue }
            throw ArchiveIOError.io(path: path, operation: "read", errno: errno)
        }
    }
}

/// Bytes already in memory (a nested archive member, a test fixture).
public final class MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    public var rawBytesConsumed: Int64 { Int64(offset) }

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
        }
        offset += n
        return n
    }
}

/// Reads `source` to its end, failing once more than `limit` bytes arrive.
/// Returns nil when the limit is exceeded (the caller decides what that means).
/// `sizeHint` (the expected size, when known) saves regrowing the buffer.
public func readAll(_ source: ByteSource, limit: Int, sizeHint: Int = 1 << 16) throws -> [UInt8]? {
    var capacity = max(min(sizeHint, limit) + 1, 4096)
    var storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    defer { storage.deallocate() }
    var count = 0
    while true {
        if count == capacity {
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity * 2, alignment: 16)
            bigger.baseAddress!.copyMemory(from: storage.baseAddress!, byteCount: count)
            storage.deallocate()
            storage = bigger
            capacity *= 2
        }
        let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: storage[count..<capacity]))
        if n == 0 { break }
        count += n
        if count > limit { return nil }
    }
    return Array(UnsafeRawBufferPointer(rebasing: storage[0..<count]))
}
