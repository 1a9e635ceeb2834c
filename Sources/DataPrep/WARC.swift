import ArchiveIO

/// One WARC record: its header fields and its content block.
public struct WARCRecord: Sendable {
    /// Header fields in file order, names as written.
    public var fields: [(name: String, value: String)]
    public var block: [UInt8]
    /// Offset of the record's version line in the (decompressed) stream.
    public var offset: Int64

    public func field(_ name: String) -> String? {
        let lower = name.lowercased()
        return fields.first(where: { $0.name.lowercased() == lower })?.value
    }

    public var type: String { field("WARC-Type")?.lowercased() ?? "" }
}

public enum WARCError: Error, CustomStringConvertible {
    case malformed(offset: Int64, message: String)
    case truncated(offset: Int64)
    case tooLarge(offset: Int64, length: Int64)

    public var description: String {
        switch self {
        case let .malformed(offset, message): return "malformed WARC record at byte \(offset): \(message)"
        case let .truncated(offset): return "truncated WARC record starting at byte \(offset)"
        case let .tooLarge(offset, length): return "WARC record at byte \(offset) has a \(length)-byte block, over the limit"
        }
    }
}

/// Reads WARC 1.0/1.1 records (ISO 28500) one after another from a decompressed stream.
/// Content-Length alone finds the end of a block: a block may hold anything, blank lines and
/// "WARC/1.0" included.
public final class WARCReader {
    private let reader: BufferedReader
    private let maxBlock: Int64

    public init(_ reader: BufferedReader, maxBlockBytes: Int64) {
        self.reader = reader
        self.maxBlock = maxBlockBytes
    }

    /// The next record, or nil at the end. A block over the limit is skipped and reported with
    /// `WARCError.tooLarge`; reading can go on after it.
    public func next() throws -> WARCRecord? {
        // Records are separated by CRLF CRLF; tolerate any run of blank lines.
        var versionLine: [UInt8] = []
        var start: Int64 = 0
        while true {
            start = reader.offset
            guard let line = try reader.readLine(maxLength: 1 << 16) else { return nil }
            guard case let .line(bytes) = line else {
                throw WARCError.malformed(offset: start, message: "header line longer than 64 KiB")
            }
            let trimmed = bytes.last == 0x0D ? Array(bytes.dropLast()) : bytes
            if trimmed.isEmpty { continue }
            versionLine = trimmed
            break
        }
        guard versionLine.starts(with: Array("WARC/".utf8)) else {
            throw WARCError.malformed(offset: start, message: "expected a WARC/1.x version line")
        }
        var fields: [(name: String, value: String)] = []
        while true {
            let lineStart = reader.offset
            guard let line = try reader.readLine(maxLength: 1 << 16) else { throw WARCError.truncated(offset: start) }
            guard case var .line(bytes) = line else {
                throw WARCError.malformed(offset: lineStart, message: "header line longer than 64 KiB")
            }
            if bytes.last == 0x0D { bytes.removeLast() }
            if bytes.isEmpty { break }
            if (bytes[0] == 0x20 || bytes[0] == 0x09), !fields.isEmpty {
                // Continuation of the previous field's value.
                fields[fields.count - 1].value += " " + String(decoding: bytes, as: UTF8.self).trimmingSpaces()
                continue
            }
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else {
                throw WARCError.malformed(offset: lineStart, message: "header line without ':'")
            }
            let name = String(decoding: bytes[..<colon], as: UTF8.self)
            let value = String(decoding: bytes[(colon + 1)...], as: UTF8.self).trimmingSpaces()
            fields.append((name, value))
        }
        guard let lengthText = fields.first(where: { $0.name.lowercased() == "content-length" })?.value,
              let length = Int64(lengthText), length >= 0 else {
            throw WARCError.malformed(offset: start, message: "missing or invalid Content-Length")
        }
        if length > maxBlock {
            let skipped = try reader.skip(length)
            if skipped < length { throw WARCError.truncated(offset: start) }
            try skipTerminator()
            throw WARCError.tooLarge(offset: start, length: length)
        }
        // Content-Length is only a claim: read(upTo:) grows with the bytes that arrive, so a
        // short record that claims up to the limit costs what it holds, not what it claims.
        let block = try reader.read(upTo: Int(length))
        if Int64(block.count) < length { throw WARCError.truncated(offset: start) }
        try skipTerminator()
        return WARCRecord(fields: fields, block: block, offset: start)
    }

    /// The CRLF CRLF after a block (some writers get it wrong; accept any run of CR and LF).
    private func skipTerminator() throws {
        var n = 0
        while n < 4 {
            let b = try reader.peek(1)
            guard let c = b.first, c == 0x0D || c == 0x0A else { return }
            try reader.skip(1)
            n += 1
        }
    }
}

/// The parts of an HTTP response stored in a WARC `response` record.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first(where: { $0.name.lowercased() == lower })?.value
    }

    /// The media type without parameters, lowercased ("text/html").
    public var mediaType: String? {
        header("Content-Type").map { String($0.split(separator: ";").first ?? "").trimmingSpaces().lowercased() }
    }

    /// The `charset` parameter of Content-Type, lowercased.
    public var charset: String? {
        guard let ct = header("Content-Type") else { return nil }
        for part in ct.split(separator: ";").dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingCharacters() == "charset" {
                return kv[1].trimmingCharacters().trimmingQuotes().lowercased()
            }
        }
        return nil
    }

    /// Parses status line, headers and body; a chunked body is de-chunked.
    public static func parse(_ block: [UInt8]) -> HTTPResponse? {
        guard block.starts(with: Array("HTTP/".utf8)) else { return nil }
        var i = 0
        var lines: [[UInt8]] = []
        var bodyStart = -1
        while i < block.count {
            guard let nl = block[i...].firstIndex(of: 0x0A) else { break }
            var line = Array(block[i..<nl])
            if line.last == 0x0D { line.removeLast() }
            i = nl + 1
            if line.isEmpty { bodyStart = i; break }
            lines.append(line)
        }
        guard bodyStart >= 0, let statusLine = lines.first else { return nil }
        let parts = String(decoding: statusLine, as: UTF8.self).split(separator: " ")
        let status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            headers.append((String(decoding: line[..<colon], as: UTF8.self),
                            String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces()))
        }
        var r = HTTPResponse(status: status, headers: headers, body: Array(block[bodyStart...]))
        if r.header("Transfer-Encoding")?.lowercased().contains("chunked") == true,
           let d = dechunk(r.body) {
            r.body = d
        }
        return r
    }

    static func dechunk(_ body: [UInt8]) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0
        while i < body.count {
            guard let nl = body[i...].firstIndex(of: 0x0A) else { return nil }
            let sizeText = String(decoding: body[i..<nl].filter { $0 != 0x0D }, as: UTF8.self)
                .split(separator: ";").first.map { $0.trimmingCharacters() } ?? ""
            guard let size = Int(sizeText, radix: 16) else { return nil }
            i = nl + 1
            if size == 0 { return out }
            guard i + size <= body.count else { return nil }
            out.append(contentsOf: body[i..<(i + size)])
            i += size
            while i < body.count && (body[i] == 0x0D || body[i] == 0x0A) { i += 1 }
        }
        return out
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
    func trimmingSpaces() -> String { trimmingCharacters() }
    func trimmingQuotes() -> String {
        var s = Substring(self)
        if s.first == "\"" || s.first == "'" { s = s.dropFirst() }
        if s.last == "\"" || s.last == "'" { s = s.dropLast() }
        return String(s)
    }
}
