#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A push stream of bytes. `finish` flushes everything (and, for an encoder, ends its frame).
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    func finish() throws
}

extension ByteSink {
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// A file written under a temporary name in the same folder and renamed into place by `commit`,
/// so that a killed process never leaves a file that looks complete. Without `commit` the
/// temporary file is removed when the writer goes away.
public final class AtomicFileWriter: ByteSink {
    public let path: String
    public let temporaryPath: String
    private var fd: Int32
    private var buffer: UnsafeMutableRawBufferPointer
    private var used = 0
    private var committed = false
    /// Bytes written to the file so far.
    public private(set) var bytesWritten: Int64 = 0
    /// Called with every chunk that reaches the file (to hash the output as it is written).
    public var observer: ((UnsafeRawBufferPointer) -> Void)?
    /// Bytes up to here have been handed to the kernel's writeback (see `startWriteback`).
    private var writebackStarted: Int64 = 0
    /// Writeback is started every this many bytes written.
    static let writebackBytes: Int64 = 8 << 20

    public init(path: String, bufferSize: Int = 1 << 20) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = "\(dir)/.\(name).tmp-\(getpid())"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ArchiveIOError.io(path: temporaryPath, operation: "create", errno: errno)
        }
        buffer = .allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(temporaryPath) }
        buffer.deallocate()
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var rest = bytes
        while rest.count > 0 {
            if used == buffer.count { try flush() }
            let n = min(rest.count, buffer.count - used)
            (buffer.baseAddress! + used).copyMemory(from: rest.baseAddress!, byteCount: n)
            used += n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }

    private func flush() throws {
        var off = 0
        if used > 0 { observer?(UnsafeRawBufferPointer(rebasing: buffer[0..<used])) }
        while off < used {
            let n = Glibc.write(fd, buffer.baseAddress! + off, used - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw ArchiveIOError.io(path: temporaryPath, operation: "write", errno: errno)
            }
            off += n
        }
        bytesWritten += Int64(used)
        used = 0
        if bytesWritten - writebackStarted >= Self.writebackBytes { startWriteback() }
    }

    /// Asks the kernel to start writing what was written since the last call to disk, without
    /// waiting for it: the fsync in `commit` then waits for the last few megabytes only, instead
    /// of everything the page cache held back (seconds for a large output), and dirty pages do not
    /// pile up while a long stage writes. Linux's sync_file_range; elsewhere nothing.
    private func startWriteback() {
        #if os(Linux)
        if let start = Self.syncFileRange {
            _ = start(fd, writebackStarted, bytesWritten - writebackStarted, 2) // SYNC_FILE_RANGE_WRITE
        }
        #endif
        writebackStarted = bytesWritten
    }

    #if os(Linux)
    /// glibc's sync_file_range, which Swift's Glibc module leaves out (it is declared only with
    /// _GNU_SOURCE): looked up once. Not variadic, so calling it through this type is its ABI.
    private static let syncFileRange: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sync_file_range") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int64, Int64, UInt32) -> Int32).self)
    }()
    #endif

    /// Overwrites `bytes` at `offset` of what was written so far (a header whose counts are known
    /// only at the end).
    public func patch(_ bytes: [UInt8], at offset: Int64) throws {
        try flush()
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else {
            throw ArchiveIOError.io(path: temporaryPath, operation: "pwrite", errno: errno)
        }
    }

    /// Flushes the buffer; the file keeps its temporary name until `commit`.
    public func finish() throws { try flush() }

    /// Flushes, syncs and renames the file into place.
    public func commit() throws {
        try flush()
        if fsync(fd) != 0 {
            throw ArchiveIOError.io(path: temporaryPath, operation: "fsync", errno: errno)
        }
        close(fd)
        fd = -1
        if rename(temporaryPath, path) != 0 {
            throw ArchiveIOError.io(path: path, operation: "rename", errno: errno)
        }
        committed = true
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try AtomicFileWriter(path: path)
        try w.write(bytes)
        try w.commit()
    }
}
