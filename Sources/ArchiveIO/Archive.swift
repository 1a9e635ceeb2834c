import CArchive

/// One entry of an archive, as libarchive describes it.
public struct ArchiveEntry: Sendable {
    public var path: String
    /// Uncompressed size when the archive records it.
    public var size: Int64?
    public var isRegularFile: Bool
    public var isEncrypted: Bool
    /// Offset of the entry's header in the archive's (decompressed) stream.
    public var headerOffset: Int64
}

/// Reads archives (tar in any compression, zip, 7z, cpio) through libarchive: `nextEntry` steps
/// through the entries and `read(into:)` streams the current entry's data.
///
/// Every libarchive return code becomes a Swift error here, with the archive's own message and
/// the byte offset reached in the file.
public final class ArchiveReader: ByteSource {
    private let handle: OpaquePointer
    private var memory: UnsafeMutableRawBufferPointer?
    private var callbackBox: Unmanaged<SourceBox>?
    public let name: String

    /// The container formats Kiln reads; raw single-file decompression is `rawDecoder`.
    private static func enableArchiveFormats(_ a: OpaquePointer) {
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        archive_read_support_format_gnutar(a)
        archive_read_support_format_zip(a)
        archive_read_support_format_7zip(a)
        archive_read_support_format_cpio(a)
        archive_read_support_format_ar(a)
        archive_read_support_format_empty(a)
    }

    /// Opens the archive file at `path`.
    public init(path: String) throws {
        guard let a = archive_read_new() else {
            throw ArchiveIOError.library(name: "libarchive", message: "archive_read_new failed")
        }
        handle = a
        name = path
        Self.enableArchiveFormats(a)
        let rc = archive_read_open_filename(a, path, 1 << 16)
        if rc != ARCHIVE_OK { throw error(rc, format: "archive") }
    }

    /// Opens an archive held in memory (a member of another archive).
    public init(bytes: [UInt8], name: String) throws {
        guard let a = archive_read_new() else {
            throw ArchiveIOError.library(name: "libarchive", message: "archive_read_new failed")
        }
        handle = a
        self.name = name
        let mem = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { if $0.count > 0 { mem.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
        memory = mem
        Self.enableArchiveFormats(a)
        let rc = archive_read_open_memory(a, mem.baseAddress, bytes.count)
        if rc != ARCHIVE_OK { throw error(rc, format: "archive") }
    }

    /// Decompresses a single compressed stream (xz, bzip2, lzma, lz4, gzip, zstd, ...) read from
    /// `source`: libarchive's filters with its "raw" format. The result has one entry, which
    /// this call has already opened, so `read(into:)` gives the decompressed bytes directly.
    public static func rawDecoder(_ source: ByteSource, name: String) throws -> ArchiveReader {
        let r = try ArchiveReader(source: source, name: name, raw: true)
        var entry: OpaquePointer?
        let rc = archive_read_next_header(r.handle, &entry)
        if rc != ARCHIVE_OK && rc != ARCHIVE_WARN { throw r.error(rc, format: "compressed stream") }
        return r
    }

    /// Reads an archive streamed from `source` (a tar or cpio inside a decompressed stream).
    /// Formats that need to seek (7z, and zip archives whose entries use data descriptors) must be
    /// opened from a file or from memory instead.
    public convenience init(source: ByteSource, name: String) throws {
        try self.init(source: source, name: name, raw: false)
    }

    private init(source: ByteSource, name: String, raw: Bool) throws {
        guard let a = archive_read_new() else {
            throw ArchiveIOError.library(name: "libarchive", message: "archive_read_new failed")
        }
        handle = a
        self.name = name
        if raw {
            archive_read_support_filter_all(a)
            archive_read_support_format_raw(a)
        } else {
            Self.enableArchiveFormats(a)
        }
        let box = Unmanaged.passRetained(SourceBox(source))
        callbackBox = box
        let rc = archive_read_open(a, box.toOpaque(), nil, { _, client, out in
            let box = Unmanaged<SourceBox>.fromOpaque(client!).takeUnretainedValue()
            do {
                let n = try box.source.read(into: box.buffer)
                out!.pointee = UnsafeRawPointer(box.buffer.baseAddress!)
                return n
            } catch {
                box.error = error
                return -1
            }
        }, nil)
        if rc != ARCHIVE_OK { throw error(rc, format: raw ? "compressed stream" : "archive") }
    }

    deinit {
        archive_read_free(handle)
        memory?.deallocate()
        callbackBox?.release()
    }

    /// Bytes of the archive file (before decompression) read so far.
    public var rawBytesConsumed: Int64 {
        if let box = callbackBox?.takeUnretainedValue() { return box.source.rawBytesConsumed }
        return max(archive_filter_bytes(handle, -1), 0)
    }

    /// Bytes of the decompressed stream read so far.
    public var uncompressedBytesConsumed: Int64 { archive_filter_bytes(handle, 0) }

    /// libarchive's name for the format, e.g. "GNU tar format" or "ZIP 2.0 (deflation)".
    public var formatName: String {
        archive_format_name(handle).map { String(cString: $0) } ?? "archive"
    }

    /// The next entry, or nil after the last one.
    public func nextEntry() throws -> ArchiveEntry? {
        var entry: OpaquePointer?
        let rc = archive_read_next_header(handle, &entry)
        if rc == ARCHIVE_EOF { return nil }
        if rc != ARCHIVE_OK && rc != ARCHIVE_WARN { throw error(rc, format: "archive") }
        guard let e = entry else { return nil }
        // The name as stored when it is UTF-8 (nearly always); else libarchive's conversion,
        // which goes through the locale and costs a charset conversion per entry.
        let path = archive_entry_pathname(e).flatMap { String(validatingCString: $0) }
            ?? archive_entry_pathname_utf8(e).map { String(cString: $0) }
            ?? archive_entry_pathname(e).map { String(decoding: UInt8Buffer(cString: $0), as: UTF8.self) }
            ?? ""
        let type = archive_entry_filetype(e)
        return ArchiveEntry(
            path: path,
            size: archive_entry_size_is_set(e) != 0 ? archive_entry_size(e) : nil,
            // AE_IFREG is a macro Swift does not import; its value is S_IFREG.
            isRegularFile: type == 0o100000,
            isEncrypted: archive_entry_is_encrypted(e) != 0,
            headerOffset: archive_read_header_position(handle))
    }

    /// Reads the current entry's data.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        let n = archive_read_data(handle, buffer.baseAddress, buffer.count)
        if n < 0 {
            if let box = callbackBox?.takeUnretainedValue(), let e = box.error { throw e }
            throw error(Int32(n), format: "archive member")
        }
        return n
    }

    private func error(_ rc: Int32, format: String) -> Error {
        if let box = callbackBox?.takeUnretainedValue(), let e = box.error { return e }
        let message = archive_error_string(handle).map { String(cString: $0) } ?? "libarchive error \(rc)"
        let lower = message.lowercased()
        if lower.contains("truncated") || lower.contains("unexpected end") || lower.contains("premature end") {
            return ArchiveIOError.truncated(format: format, offset: rawBytesConsumed)
        }
        return ArchiveIOError.corrupt(format: format, offset: rawBytesConsumed, message: message)
    }
}

/// Holds the source and buffer that libarchive's read callback pulls from.
private final class SourceBox {
    let source: ByteSource
    let buffer: UnsafeMutableRawBufferPointer
    var error: Error?
    init(_ source: ByteSource) {
        self.source = source
        buffer = .allocate(byteCount: 1 << 17, alignment: 16)
    }
    deinit { buffer.deallocate() }
}

/// The bytes of a C string, for paths that are not valid in the current locale.
private struct UInt8Buffer: Collection {
    let base: UnsafePointer<CChar>
    let count: Int
    init(cString: UnsafePointer<CChar>) {
        base = cString
        var n = 0
        while cString[n] != 0 { n += 1 }
        count = n
    }
    var startIndex: Int { 0 }
    var endIndex: Int { count }
    func index(after i: Int) -> Int { i + 1 }
    subscript(i: Int) -> UInt8 { UInt8(bitPattern: base[i]) }
}
