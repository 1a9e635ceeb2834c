// Positioned reads and atomic writes of large binary files, with POSIX calls.
//
// Checkpoints reach 500 MB and more: they are read straight into the destination [Float] with
// pread, not through a whole-file Data, and written under a temporary name that is renamed over
// the target only when complete, so a crash never leaves a half-written checkpoint under the
// real name. The unsafe buffer handling of the checkpoint code lives here.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The formats are little-endian and the bytes are copied straight into Float/UInt16 memory.
#if !_endian(little)
#error("Kiln's checkpoint readers assume a little-endian host")
#endif

/// A file opened for positioned reads.
final class ReadableFile {
    let path: String
    let size: Int
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CheckpointError(path: path, reason: .io, message: "cannot open: \(errnoText())") }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let text = errnoText()
            close(fd)
            throw CheckpointError(path: path, reason: .io, message: "cannot stat: \(text)")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw CheckpointError(path: path, reason: .io, message: "is a directory, not a file")
        }
        self.fd = fd
        self.size = Int(st.st_size)
    }

    deinit { close(fd) }

    /// Whether `path` names a folder (following links).
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Fills `buffer` with the bytes at `offset`; a file that ends first is truncated.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(path: path, reason: .io, message: "read failed at byte \(offset + done): \(errnoText())")
            }
            if n == 0 {
                throw CheckpointError(path: path, reason: .truncated,
                                      message: "the file ends at byte \(offset + done), \(buffer.count - done) bytes short")
            }
            done += n
        }
    }

    func bytes(_ count: Int, at offset: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try read(into: $0, at: offset) }
        return out
    }

    /// `count` little-endian floats at `offset`.
    func floats(_ count: Int, at offset: Int) throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: count) { buf, initialized in
            try read(into: UnsafeMutableRawBufferPointer(buf), at: offset)
            initialized = count
        }
    }

    /// `count` little-endian 16-bit words at `offset`.
    func halfwords(_ count: Int, at offset: Int) throws -> [UInt16] {
        try [UInt16](unsafeUninitializedCapacity: count) { buf, initialized in
            try read(into: UnsafeMutableRawBufferPointer(buf), at: offset)
            initialized = count
        }
    }
}

/// Writes a file under a temporary name in the same folder and renames it over `path` on
/// `commit()`. Dropped without a commit, it removes the temporary file. Every file the engine and
/// the trainer write goes through it (`writeFileAtomically` for the modules above).
final class AtomicFileWriter {
    let path: String
    private let temporaryPath: String
    private var fd: Int32
    private var committed = false

    init(path: String) throws {
        self.path = path
        // Same folder, so the rename cannot cross file systems; the pid keeps two writers apart.
        temporaryPath = path + ".tmp-\(getpid())"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError(path: path, reason: .io, message: "cannot create \(temporaryPath): \(errnoText())")
        }
    }

    deinit {
        if !committed {
            if fd >= 0 { close(fd) }
            unlink(temporaryPath)
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(path: path, reason: .io, message: "write failed: \(errnoText())")
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
    func write(_ floats: [Float]) throws { try floats.withUnsafeBytes { try write($0) } }
    func write(_ words: [UInt16]) throws { try words.withUnsafeBytes { try write($0) } }

    /// Writes `bytes` to `path` whole or not at all.
    static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try AtomicFileWriter(path: path)
        try w.write(bytes)
        try w.commit()
    }

    /// Closes the file and renames it over the target.
    func commit() throws {
        let rc = close(fd)
        fd = -1
        guard rc == 0 else { throw CheckpointError(path: path, reason: .io, message: "close failed: \(errnoText())") }
        guard rename(temporaryPath, path) == 0 else {
            throw CheckpointError(path: path, reason: .io, message: "cannot rename \(temporaryPath) to it: \(errnoText())")
        }
        committed = true
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

/// POSIX write(2), named apart from the writer's own `write` methods.
private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

/// Writes `bytes` to `path` under a temporary name and renames it into place, so a killed run
/// never leaves a half-written file under the final name.
public func writeFileAtomically(_ bytes: [UInt8], to path: String) throws {
    try AtomicFileWriter.write(bytes, to: path)
}
