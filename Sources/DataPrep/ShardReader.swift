import ArchiveIO
import Foundation

/// Reads the document shards that Kiln's stages write (and any JSONL of the same record shape).
public enum Shards {
    /// Shard files under `paths`: a file is taken as it is; a folder gives its `*.jsonl`,
    /// `*.jsonl.zst` and `*.jsonl.gz` files (not recursively, hidden files left out), sorted by
    /// name, so that the shards of every task of an earlier stage are read in a fixed order.
    public static func list(_ paths: [String]) throws -> [String] {
        var files: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
                throw IngestError.inputNotFound(p)
            }
            if isDir.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: p)
                    .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".jsonl") || $0.hasSuffix(".jsonl.zst") || $0.hasSuffix(".jsonl.gz")) }
                    .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
                files += names.map { p.hasSuffix("/") ? p + $0 : p + "/" + $0 }
            } else {
                files.append(p)
            }
        }
        return files
    }

    /// A JSONL file's lines, decompressed according to its first bytes (zstd, gzip or none).
    ///
    /// `expectedSize` is the size the stage listed for the file when it began: a file of another
    /// size when it is opened was changed since (cut short, say) while the stage ran, and reading
    /// it would give fewer documents without an error (a line cut at the new end may be dropped
    /// as invalid). Once open, a file cut short is caught by `FileSource` at its end.
    public static func lines(of path: String, expectedSize: Int64? = nil) throws -> BufferedReader {
        try decoded(try open(path, expectedSize: expectedSize))
    }

    private static func open(_ path: String, expectedSize: Int64?) throws -> FileSource {
        let source = try FileSource(path: path)
        if let expectedSize, let size = source.sizeWhenOpened, size != expectedSize {
            throw ChangedError(path: path, listed: expectedSize, opened: size)
        }
        return source
    }

    private static func decoded(_ source: FileSource) throws -> BufferedReader {
        let file = BufferedReader(source)
        let magic = try file.peek(4)
        if magic.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return BufferedReader(try ZstdDecoder(file)) }
        if magic.starts(with: [0x1F, 0x8B]) { return BufferedReader(try GzipDecoder(file)) }
        return file
    }

    /// A shard read once: its lines (as `lines(of:expectedSize:)`), and the SHA-256 of the file's
    /// bytes taken as they are read, for the manifest, instead of reading the file a second time.
    public final class HashedLines {
        public let lines: BufferedReader
        private let file: FileSource
        private let hash = HashBox()

        public init(path: String, expectedSize: Int64? = nil) throws {
            file = try Shards.open(path, expectedSize: expectedSize)
            file.observer = { [hash] in hash.update($0) }
            lines = try Shards.decoded(file)
        }

        /// Reads what the lines left of the file (bytes after a compressed stream's end) and
        /// returns the whole file's SHA-256 in hex.
        public func digest() throws -> String {
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { buffer.deallocate() }
            while try file.read(into: buffer) > 0 {}
            return hash.hex()
        }
    }

    /// A shard whose size when opened differs from the size listed at the start of the stage.
    public struct ChangedError: Error, CustomStringConvertible {
        public var path: String
        public var listed: Int64
        public var opened: Int64
        public var description: String {
            "\(path): the file changed while the stage ran: it had \(listed) bytes when the stage listed its inputs and \(opened) when it was opened"
        }
    }

    /// A shard that could not be read to its end (missing, unreadable, corrupt, cut short or
    /// changed while the stage ran), with the file's name; the error of `forEachDocument`'s body
    /// is passed on as it is.
    public struct ReadError: Error, CustomStringConvertible {
        public var path: String
        public var underlying: Error
        public var description: String {
            let text = "\(underlying)"
            return text.hasPrefix(path) ? text : "\(path): \(text)"
        }
    }

    public struct RecordError: Error, CustomStringConvertible {
        public var path: String
        public var line: Int
        public var message: String
        public var description: String { "\(path) line \(line): \(message)" }
    }

    /// Calls `body` with each document of the shard at `path` and its line number (from 1).
    /// A line that is not a document record goes to `onInvalidLine` (naming the file and the
    /// line), and reading goes on; without a handler it throws. A failure to read the file is a
    /// `ReadError`; `expectedSize` is as for `lines(of:expectedSize:)`.
    /// Returns the SHA-256 (hex) of the file, taken in the same pass.
    @discardableResult
    public static func forEachDocument(in path: String, expectedSize: Int64? = nil,
                                       onInvalidLine: ((RecordError) throws -> Void)? = nil,
                                       _ body: (Document, Int) throws -> Void) throws -> String {
        try forEachLine(in: path, expectedSize: expectedSize) { bytes, n in
            let doc: Document
            do { doc = try Document.parse(bytes) } catch {
                let e = RecordError(path: path, line: n, message: "\(error)")
                guard let onInvalidLine else { throw e }
                try onInvalidLine(e)
                return
            }
            try body(doc, n)
        }
    }

    /// Calls `body` with each non-empty line of the shard at `path`, unparsed, and its number
    /// (from 1): for a stage that parses the records on other threads. Errors as for
    /// `forEachDocument`, and so is what it returns.
    @discardableResult
    public static func forEachLine(in path: String, expectedSize: Int64? = nil,
                                   _ body: ([UInt8], Int) throws -> Void) throws -> String {
        func reading<T>(_ read: () throws -> T) throws -> T {
            do { return try read() } catch { throw ReadError(path: path, underlying: error) }
        }
        let file = try reading { try HashedLines(path: path, expectedSize: expectedSize) }
        var n = 0
        while let line = try reading({ try file.lines.readLine(maxLength: Int.max) }) {
            n += 1
            guard case let .line(bytes) = line, !bytes.isEmpty else { continue }
            try body(bytes, n)
        }
        return try reading { try file.digest() }
    }

    /// The shard files under `paths` as stage inputs (with size and modification time, for the
    /// up-to-date check of a rerun).
    public static func inputs(_ paths: [String]) throws -> [IngestInput] {
        try list(paths).map { path in
            var st = stat()
            guard stat(path, &st) == 0 else { throw IngestError.inputNotFound(path) }
            return IngestInput(path: path, size: Int64(st.st_size),
                               mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
        }
    }
}
