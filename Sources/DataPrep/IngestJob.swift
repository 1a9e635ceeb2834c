import ArchiveIO

/// Reading one input file into documents: recognises each stream's format, opens archives two
/// levels deep, decompresses, decodes text, and hands each finished record to `emit`.
///
/// Nothing here stops the run: a damaged part becomes an `InputIssue` and the documents read
/// before it are kept. Only a failure to write output (thrown by `emit`) ends the job.
final class IngestJob {
    let input: IngestInput
    let options: IngestOptions
    private let emit: (Document) throws -> Void
    private let onProgress: (Int64) -> Void
    private let onIssue: (InputIssue) -> Void

    private(set) var counts = IngestCounts()
    /// SHA-256 of the input file, when the reading consumed all of it in order (else nil, and
    /// the caller hashes the file in a pass of its own).
    private(set) var inputSHA256: String?
    private(set) var issues: [InputIssue] = []
    private var rawPosition: () -> Int64 = { 0 }
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    deinit { scratch.deallocate() }

    /// Nested archives: an archive inside an archive is read, one level deeper is not.
    static let maxArchiveDepth = 2
    /// Compression layers on one stream (a .tar.gz inside a .zst, say).
    static let maxCompressionLayers = 3

    init(input: IngestInput, options: IngestOptions,
         emit: @escaping (Document) throws -> Void,
         onProgress: @escaping (Int64) -> Void,
         onIssue: @escaping (InputIssue) -> Void) {
        self.input = input
        self.options = options
        self.emit = emit
        self.onProgress = onProgress
        self.onIssue = onIssue
    }

    /// Errors that belong to the container being walked (a truncated tar), as opposed to one of
    /// its members (a corrupt .gz inside the tar): the first stops the archive, the second only
    /// the member.
    struct ContainerError: Error { let underlying: Error }

    /// Raised by `emit` failures, which must end the whole run.
    struct OutputError: Error { let underlying: Error }

    func run() throws {
        counts.inputs = 1
        counts.inputBytes = input.size
        do {
            let file = try FileSource(path: input.path)
            let hasher = HashBox()
            file.observer = { hasher.update($0) }
            rawPosition = { file.rawBytesConsumed }
            try process(BufferedReader(file), name: input.path, member: nil, archiveDepth: 0,
                        layers: 0, topLevel: true)
            // Formats that stop early (a zip read through its directory) leave the rest unread.
            while try file.read(into: scratch) > 0 {}
            inputSHA256 = hasher.hex()
        } catch let e as OutputError {
            throw e.underlying
        } catch {
            record(error, member: nil)
        }
        onProgress(input.size)
    }

    // MARK: - Dispatch

    private func process(_ reader: BufferedReader, name: String, member: String?, archiveDepth: Int,
                         layers: Int, topLevel: Bool) throws {
        let head = try reader.peek(Sniffer.headSize)
        switch Sniffer.classify(head: head, name: name) {
        case .empty:
            skip("empty")
        case let .binary(reason):
            skip(reason)
        case let .compressed(kind):
            guard layers < Self.maxCompressionLayers else { skip("too_many_compression_layers"); return }
            // Where the compressed stream starts in the file: the reader has read ahead (up to
            // 256 KiB), and counting from its read position made a small, legitimately 50:1 .gz
            // look like a bomb. Only a file read directly has raw offsets equal to its bytes.
            let streamStart = topLevel && layers == 0 ? max(0, reader.rawBytesConsumed - Int64(reader.bufferedCount)) : nil
            let decoded = try decoder(kind, over: reader, name: name)
            let guarded = GuardedSource(decoded, rawBytes: { reader.rawBytesConsumed }, rawStart: streamStart,
                                        maxBytes: topLevel ? nil : options.maxEntrySize,
                                        maxRatio: options.maxRatio, onRead: { [unowned self] in self.progress() })
            let inner = BufferedReader(guarded)
            let innerName = Sniffer.stripCompressionSuffix(name)
            let innerHead = try inner.peek(Sniffer.headSize)
            if case let .archive(container) = Sniffer.classify(head: innerHead, name: innerName) {
                // A compressed archive (tar.gz, cpio.xz) streams through the decoder, which keeps
                // every member before a truncation (libarchive's own gzip filter gives up early).
                try openArchive(inner, container: container, name: innerName, member: member,
                                depth: archiveDepth, filePath: nil)
                return
            }
            try process(inner, name: innerName, member: member, archiveDepth: archiveDepth,
                        layers: layers + 1, topLevel: topLevel)
        case let .archive(container):
            try openArchive(reader, container: container, name: name, member: member, depth: archiveDepth,
                            filePath: topLevel && layers == 0 ? input.path : nil)
        case .warc:
            try readWARC(reader, member: member)
        case .jsonl:
            try readJSONL(reader, member: member)
        case .html:
            try readWhole(reader, name: name, member: member, html: true)
        case .text:
            try readWhole(reader, name: name, member: member, html: false)
        }
    }

    private func decoder(_ kind: ContentKind.Compression, over reader: BufferedReader, name: String) throws -> ByteSource {
        switch kind {
        case .gzip: return try GzipDecoder(reader)
        case .zstd: return try ZstdDecoder(reader)
        default: return try ArchiveReader.rawDecoder(reader, name: name)
        }
    }

    // MARK: - Archives

    /// Opens an archive: from its file when it is one (zip and 7z need to seek), from memory
    /// for a zip or 7z inside another archive, and streamed otherwise.
    private func openArchive(_ reader: BufferedReader, container: ContentKind.Container, name: String,
                             member: String?, depth: Int, filePath: String?) throws {
        guard depth < Self.maxArchiveDepth else { skip("nested_archive_too_deep"); return }
        let archive: ArchiveReader
        if let filePath {
            archive = try ArchiveReader(path: filePath)
        } else if container == .zip || container == .sevenZip {
            guard let bytes = try readAll(reader, limit: Int(options.maxEntrySize)) else {
                skip("entry_too_large")
                return
            }
            archive = try ArchiveReader(bytes: bytes, name: member ?? name)
        } else {
            archive = try ArchiveReader(source: reader, name: member ?? name)
        }
        try walkArchive(archive, prefix: member, depth: depth + 1)
    }

    private func walkArchive(_ archive: ArchiveReader, prefix: String?, depth: Int) throws {
        if prefix == nil { rawPosition = { archive.rawBytesConsumed } }
        var last: String?
        while true {
            let entry: ArchiveEntry
            do {
                guard let e = try archive.nextEntry() else { return }
                entry = e
            } catch {
                record(error, member: prefix, after: last)
                return
            }
            progress()
            guard entry.isRegularFile else { continue }
            let member = prefix.map { "\($0)!/\(entry.path)" } ?? entry.path
            last = member
            if entry.isEncrypted { skip("encrypted"); continue }
            if let size = entry.size, size > options.maxEntrySize { skip("entry_too_large"); continue }
            let source = EntrySource(archive)
            let guarded = GuardedSource(source, rawBytes: { archive.rawBytesConsumed },
                                        maxBytes: options.maxEntrySize, maxRatio: options.maxRatio,
                                        onRead: { [unowned self] in self.progress() })
            // Most members are small: size the buffer to the member, not to the largest case.
            let capacity = Int(min(max(entry.size ?? (1 << 18), Int64(Sniffer.headSize)) + 1, 1 << 18))
            do {
                try process(BufferedReader(guarded, capacity: capacity), name: entry.path, member: member,
                            archiveDepth: depth, layers: 0, topLevel: false)
            } catch let e as ContainerError {
                record(e.underlying, member: member)
                return
            } catch let e as LimitExceeded {
                // Skipping the rest of a bomb would mean decompressing it: stop the archive.
                record(e, member: member)
                return
            } catch let e as OutputError {
                throw e
            } catch {
                record(error, member: member)
            }
        }
    }

    // MARK: - Formats

    private func readWhole(_ reader: BufferedReader, name: String, member: String?, html: Bool) throws {
        guard let raw = try readAll(reader, limit: Int(options.maxDocumentSize) * 4) else {
            skip("document_too_large")
            return
        }
        let declared = html ? HTMLText.declaredCharset(Array(raw.prefix(4096))) : nil
        let decoded = TextDecoding.decode(raw, declaredCharset: declared)
        var metadata: [JSONMember] = []
        var text = decoded.text
        if html {
            let utf8 = Array(text.utf8)
            text = String(decoding: HTMLText.extract(utf8), as: UTF8.self)
            metadata.append(JSONMember("format", .string("html")))
            if let title = HTMLText.title(utf8), !title.isEmpty {
                metadata.append(JSONMember("title", .string(title)))
            }
        } else {
            metadata.append(JSONMember("format", .string(Self.textFormat(name))))
        }
        let id = Document.stableID(input: input.path, member: member, position: nil)
        try finish(text: text, id: id, source: DocumentSource(input: input.path, member: member),
                   metadata: metadata, decoded: decoded)
    }

    static func textFormat(_ name: String) -> String {
        let lower = Sniffer.stripCompressionSuffix(String(name.suffix(16)).lowercased())
        if lower.hasSuffix(".md") || lower.hasSuffix(".markdown") { return "markdown" }
        if lower.hasSuffix(".rst") { return "rst" }
        return "text"
    }

    private func readJSONL(_ reader: BufferedReader, member: String?) throws {
        var lineNumber = 0
        let limit = Int(min(options.maxDocumentSize * 2 + (1 << 20), Int64(Int32.max)))
        while true {
            let lineStart = reader.offset
            guard let line = try reader.readLine(maxLength: limit) else { return }
            lineNumber += 1
            progress()
            guard case var .line(bytes) = line else {
                skip("document_too_large")
                continue
            }
            if bytes.last == 0x0D { bytes.removeLast() }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            var replaced = 0
            if TextDecoding.validUTF8Prefix(bytes[...]) != bytes.count {
                let (fixed, bad) = TextDecoding.lossyUTF8(bytes[...])
                bytes = Array(fixed.utf8)
                replaced = bad
            }
            let value: JSONValue
            do {
                value = try JSONParser.parse(bytes)
            } catch let e as JSONParseError {
                issue(kind: "invalid_json", member: member, offset: lineStart + Int64(e.offset), line: lineNumber,
                      message: e.message)
                continue
            }
            guard case let .object(fields) = value else {
                issue(kind: "invalid_record", member: member, offset: lineStart, line: lineNumber,
                      message: "the line is not a JSON object")
                continue
            }
            guard let text = value[options.textField]?.stringValue else {
                issue(kind: "invalid_record", member: member, offset: lineStart, line: lineNumber,
                      message: "no string field \"\(options.textField)\"")
                continue
            }
            var id: String
            switch value[options.idField] {
            case let .string(s)?: id = s
            case let .number(n)?: id = n
            default: id = Document.stableID(input: input.path, member: member, position: "line:\(lineNumber)")
            }
            if id.isEmpty { id = Document.stableID(input: input.path, member: member, position: "line:\(lineNumber)") }
            // datatrove's convention: a "metadata" object's fields, then every other field.
            var metadata: [JSONMember] = []
            if case let .object(m)? = value["metadata"] { metadata = m }
            for f in fields where f.key != options.textField && f.key != options.idField && f.key != "metadata" {
                metadata.append(f)
            }
            let decoded = DecodedText(text: text, encoding: "utf-8", replacedBytes: replaced)
            try finish(text: TextDecoding.normalizeNewlines(text), id: id,
                       source: DocumentSource(input: input.path, member: member, record: "line:\(lineNumber)"),
                       metadata: metadata, decoded: decoded)
        }
    }

    private func readWARC(_ reader: BufferedReader, member: String?) throws {
        let warc = WARCReader(reader, maxBlockBytes: options.maxDocumentSize * 4)
        var index = 0
        while true {
            let record: WARCRecord
            do {
                guard let r = try warc.next() else { return }
                record = r
            } catch let e as WARCError {
                if case .tooLarge = e { skip("document_too_large"); continue }
                throw e
            }
            index += 1
            progress()
            let type = record.type
            guard type == "response" || type == "conversion" || type == "resource" else { continue }
            let recordID = record.field("WARC-Record-ID") ?? "record:\(index)"
            let url = record.field("WARC-Target-URI")
            var metadata: [JSONMember] = [JSONMember("format", .string(type == "conversion" ? "wet" : "warc"))]
            if let d = record.field("WARC-Date") { metadata.append(JSONMember("date", .string(d))) }
            if let l = record.field("WARC-Identified-Content-Language") {
                metadata.append(JSONMember("warc_language", .string(l)))
            }
            var payload = record.block
            var mediaType = record.field("WARC-Identified-Payload-Type")?.lowercased()
            var charset: String?
            if type == "response" {
                guard let http = HTTPResponse.parse(record.block) else {
                    skip("warc_not_http")
                    continue
                }
                payload = http.body
                mediaType = mediaType ?? http.mediaType
                charset = http.charset
                if let enc = http.header("Content-Encoding")?.lowercased(), enc == "gzip" || enc == "x-gzip" {
                    guard let plain = try? readAll(GzipDecoder(MemorySource(payload)), limit: Int(options.maxDocumentSize) * 4) else {
                        skip("warc_bad_content_encoding")
                        continue
                    }
                    payload = plain
                }
                metadata.append(JSONMember("http_status", .number(http.status)))
            } else if type == "conversion" {
                mediaType = "text/plain"
            } else {
                mediaType = mediaType ?? record.field("Content-Type")?.lowercased()
            }
            let isHTML: Bool
            switch mediaType.map({ String($0.split(separator: ";").first ?? "") }) {
            case "text/html"?, "application/xhtml+xml"?: isHTML = true
            case "text/plain"?: isHTML = false
            case nil:
                isHTML = HTMLText.looksLikeHTML(Array(payload.prefix(2048)))
            default:
                skip("warc_non_text")
                continue
            }
            if case .binary = Sniffer.classify(head: Array(payload.prefix(Sniffer.headSize)), name: "") {
                skip("warc_non_text")
                continue
            }
            if let mt = mediaType { metadata.append(JSONMember("content_type", .string(mt))) }
            let declared = charset ?? (isHTML ? HTMLText.declaredCharset(Array(payload.prefix(4096))) : nil)
            let decoded = TextDecoding.decode(payload, declaredCharset: declared)
            var text = decoded.text
            if isHTML {
                let utf8 = Array(text.utf8)
                text = String(decoding: HTMLText.extract(utf8), as: UTF8.self)
                if let title = HTMLText.title(utf8), !title.isEmpty {
                    metadata.append(JSONMember("title", .string(title)))
                }
            }
            let id = Document.stableID(input: input.path, member: member, position: recordID)
            try finish(text: text, id: id,
                       source: DocumentSource(input: input.path, member: member, url: url, record: recordID),
                       metadata: metadata, decoded: decoded)
        }
    }

    // MARK: - Output and bookkeeping

    private func finish(text: String, id: String, source: DocumentSource, metadata: [JSONMember],
                        decoded: DecodedText) throws {
        let size = text.utf8.count
        if TextDecoding.isBlank(text) {
            skip("empty")
            return
        }
        if Int64(size) > options.maxDocumentSize {
            skip("document_too_large")
            return
        }
        var metadata = metadata
        if decoded.encoding != "utf-8" {
            metadata.append(JSONMember("encoding", .string(decoded.encoding)))
            counts.encodings[decoded.encoding, default: 0] += 1
        }
        if decoded.replacedBytes > 0 {
            metadata.append(JSONMember("replaced_bytes", .number(decoded.replacedBytes)))
            counts.replacedBytes += decoded.replacedBytes
        }
        do {
            try emit(Document(id: id, text: text, source: source, metadata: metadata))
        } catch {
            throw OutputError(underlying: error)
        }
        counts.documents += 1
        counts.textBytes += Int64(size)
    }

    private func skip(_ reason: String) {
        counts.skipped[reason, default: 0] += 1
    }

    private func progress() {
        onProgress(rawPosition())
    }

    private func issue(kind: String, member: String?, offset: Int64?, line: Int?, message: String) {
        let i = InputIssue(input: input.path, member: member, offset: offset, line: line, kind: kind, message: message)
        counts.errors[kind, default: 0] += 1
        issues.append(i)
        onIssue(i)
    }

    private func record(_ error: Error, member: String?, after previous: String? = nil) {
        let e = (error as? ContainerError)?.underlying ?? error
        // An error between two members names the last good one.
        let member = member ?? previous.map { "(after \($0))" }
        switch e {
        case let ArchiveIOError.truncated(format, offset):
            issue(kind: "truncated", member: member, offset: offset, line: nil, message: "truncated \(format) data")
        case let ArchiveIOError.corrupt(format, offset, message):
            issue(kind: "corrupt", member: member, offset: offset, line: nil, message: "corrupt \(format) data: \(message)")
        case let ArchiveIOError.io(_, operation, code):
            issue(kind: "read_error", member: member, offset: nil, line: nil,
                  message: ArchiveIOError.io(path: input.path, operation: operation, errno: code).description)
        case let ArchiveIOError.shrank(_, size, end):
            issue(kind: "truncated_while_reading", member: member, offset: end, line: nil,
                  message: "the file was truncated while being read: it had \(size) bytes when opened and ended at byte \(end)")
        case let WARCError.truncated(offset):
            issue(kind: "truncated", member: member, offset: offset, line: nil, message: "truncated WARC record")
        case let WARCError.malformed(offset, message):
            issue(kind: "corrupt", member: member, offset: offset, line: nil, message: "malformed WARC record: \(message)")
        case let l as LimitExceeded:
            issue(kind: l.kind, member: member, offset: l.offset, line: nil, message: l.description)
        default:
            issue(kind: "read_error", member: member, offset: nil, line: nil, message: "\(e)")
        }
    }
}

/// A decompressed stream that stops at the size and ratio limits.
struct LimitExceeded: Error, CustomStringConvertible {
    var kind: String
    var offset: Int64
    var description: String
}

final class GuardedSource: ByteSource {
    private let upstream: ByteSource
    private let rawBytes: () -> Int64
    private let rawStart: Int64
    private let maxBytes: Int64?
    private let maxRatio: Double
    private let onRead: () -> Void
    private var produced: Int64 = 0

    /// `rawStart`: the raw offset where the stream begins, when known; else the raw position now.
    init(_ upstream: ByteSource, rawBytes: @escaping () -> Int64, rawStart: Int64? = nil, maxBytes: Int64?,
         maxRatio: Double, onRead: @escaping () -> Void) {
        self.upstream = upstream
        self.rawBytes = rawBytes
        self.rawStart = rawStart ?? rawBytes()
        self.maxBytes = maxBytes
        self.maxRatio = maxRatio
        self.onRead = onRead
    }

    var rawBytesConsumed: Int64 { upstream.rawBytesConsumed }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try upstream.read(into: buffer)
        produced += Int64(n)
        if let m = maxBytes, produced > m {
            throw LimitExceeded(kind: "entry_size_limit", offset: produced,
                                description: "stopped after \(m) bytes of decompressed data (--max-entry-size)")
        }
        if produced > IngestOptions.ratioFloor {
            let consumed = max(rawBytes() - rawStart, 1)
            if Double(produced) > maxRatio * Double(consumed) {
                throw LimitExceeded(kind: "ratio_limit", offset: rawBytes(),
                                    description: "compression ratio over \(Int(maxRatio)):1 (\(produced) bytes from \(consumed)); stopped as a likely bomb (--max-ratio)")
            }
        }
        onRead()
        return n
    }
}

/// The current member's data; its errors belong to the archive, not to the member.
final class EntrySource: ByteSource {
    private let archive: ArchiveReader
    init(_ archive: ArchiveReader) { self.archive = archive }
    var rawBytesConsumed: Int64 { archive.rawBytesConsumed }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        do { return try archive.read(into: buffer) } catch { throw IngestJob.ContainerError(underlying: error) }
    }
}
