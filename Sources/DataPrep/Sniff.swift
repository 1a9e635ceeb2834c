/// What a stream holds, recognised from its first bytes (magic numbers), with the file name as a
/// hint only where the content cannot tell (JSONL against plain text that starts with `{`).
public enum ContentKind: Equatable, Sendable {
    public enum Compression: String, Sendable { case gzip, zstd, xz, bzip2, lzma, lz4 }
    public enum Container: String, Sendable { case tar, zip, sevenZip = "7z", cpio, ar }

    case compressed(Compression)
    case archive(Container)
    case warc
    case jsonl
    case html
    case text
    /// A file that holds no text; the reason names what it is (`binary:pdf`, `binary:nul`).
    case binary(String)
    case empty
}

public enum Sniffer {
    /// How many leading bytes `classify` wants to see (a tar header's magic is at 257).
    public static let headSize = 4096

    public static func classify(head: [UInt8], name: String) -> ContentKind {
        if head.isEmpty { return .empty }
        func at(_ offset: Int, _ magic: [UInt8]) -> Bool {
            head.count >= offset + magic.count && Array(head[offset..<(offset + magic.count)]) == magic
        }
        // Compression
        if at(0, [0x1F, 0x8B]) { return .compressed(.gzip) }
        if at(0, [0x28, 0xB5, 0x2F, 0xFD]) { return .compressed(.zstd) }
        if at(0, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .compressed(.xz) }
        if at(0, [0x42, 0x5A, 0x68]) && head.count > 3 && (0x31...0x39).contains(head[3]) { return .compressed(.bzip2) }
        if at(0, [0x04, 0x22, 0x4D, 0x18]) { return .compressed(.lz4) }
        if at(0, [0x5D, 0x00, 0x00]) && name.lowercased().hasSuffix(".lzma") { return .compressed(.lzma) }
        // Containers
        if at(0, [0x50, 0x4B, 0x03, 0x04]) || at(0, [0x50, 0x4B, 0x05, 0x06]) || at(0, [0x50, 0x4B, 0x07, 0x08]) {
            return .archive(.zip)
        }
        if at(0, [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) { return .archive(.sevenZip) }
        if at(257, Array("ustar".utf8)) || isV7TarHeader(head) { return .archive(.tar) }
        if at(0, Array("070701".utf8)) || at(0, Array("070702".utf8)) || at(0, Array("070707".utf8))
            || at(0, [0xC7, 0x71]) || at(0, [0x71, 0xC7]) {
            return .archive(.cpio)
        }
        if at(0, Array("!<arch>\n".utf8)) { return .archive(.ar) }
        // Binary formats that hold no text for us.
        let binaries: [(Int, [UInt8], String)] = [
            (0, [0x89, 0x50, 0x4E, 0x47], "binary:image"),          // PNG
            (0, [0xFF, 0xD8, 0xFF], "binary:image"),                // JPEG
            (0, Array("GIF8".utf8), "binary:image"),
            (0, Array("BM".utf8) + [], "binary:image-bmp"),
            (8, Array("WEBP".utf8), "binary:image"),
            (0, Array("%PDF".utf8), "binary:pdf"),
            (0, [0x7F, 0x45, 0x4C, 0x46], "binary:executable"),     // ELF
            (0, Array("MZ".utf8), "binary:executable"),             // PE
            (0, [0xCF, 0xFA, 0xED, 0xFE], "binary:executable"),     // Mach-O
            (0, [0xCA, 0xFE, 0xBA, 0xBE], "binary:executable"),     // Java class / fat Mach-O
            (0, [0x00, 0x61, 0x73, 0x6D], "binary:executable"),     // wasm
            (0, Array("SQLite format 3".utf8), "binary:database"),
            (0, [0xD0, 0xCF, 0x11, 0xE0], "binary:office"),
            (4, Array("ftyp".utf8), "binary:media"),
            (0, Array("ID3".utf8), "binary:media"),
            (0, Array("OggS".utf8), "binary:media"),
            (0, Array("RIFF".utf8), "binary:media"),
            (0, [0x1A, 0x45, 0xDF, 0xA3], "binary:media"),          // Matroska / WebM
            (0, Array("wOFF".utf8), "binary:font"),
            (0, Array("Rar!".utf8), "binary:rar"),
        ]
        for (offset, magic, reason) in binaries where at(offset, magic) {
            // "BM" and "MZ" are short: only trust them when the rest is not text.
            if magic.count <= 2 && controlFraction(head) < 0.05 { continue }
            return .binary(reason)
        }
        if head.contains(0) && !isUTF16(head) { return .binary("binary:nul") }
        if at(0, Array("WARC/1.".utf8)) { return .warc }

        var body = head[...]
        if at(0, [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        while let c = body.first, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { body = body.dropFirst() }
        let lower = name.lowercased()
        let stem = stripCompressionSuffix(lower)
        if body.first == UInt8(ascii: "{") {
            if stem.hasSuffix(".jsonl") || stem.hasSuffix(".ndjson") || stem.hasSuffix(".json")
                || body.dropFirst().first == UInt8(ascii: "\"") {
                return .jsonl
            }
        }
        if HTMLText.looksLikeHTML(Array(body.prefix(2048))) || stem.hasSuffix(".html") && body.first == UInt8(ascii: "<")
            || stem.hasSuffix(".htm") && body.first == UInt8(ascii: "<") {
            return .html
        }
        if !isUTF16(head) && controlFraction(head) > 0.1 { return .binary("binary:control-bytes") }
        return .text
    }

    static func stripCompressionSuffix(_ name: String) -> String {
        for s in [".gz", ".zst", ".zstd", ".xz", ".bz2", ".lz4", ".lzma"] where name.hasSuffix(s) {
            return String(name.dropLast(s.count))
        }
        return name
    }

    static func isUTF16(_ head: [UInt8]) -> Bool {
        head.starts(with: [0xFF, 0xFE]) || head.starts(with: [0xFE, 0xFF])
    }

    /// Share of bytes that are C0 control characters other than tab, newline, carriage return,
    /// form feed and escape.
    static func controlFraction(_ head: [UInt8]) -> Double {
        guard !head.isEmpty else { return 0 }
        var n = 0
        for c in head where c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D && c != 0x0C && c != 0x1B { n += 1 }
        return Double(n) / Double(head.count)
    }

    /// An old (pre-POSIX) tar header has no magic; its checksum field proves it.
    static func isV7TarHeader(_ head: [UInt8]) -> Bool {
        guard head.count >= 512, head[0] != 0 else { return false }
        let field = head[148..<156]
        var stored = 0
        var digits = 0
        for c in field {
            if c >= 0x30 && c <= 0x37 { stored = stored * 8 + Int(c - 0x30); digits += 1 }
            else if c == 0 || c == 0x20 { if digits > 0 { break } }
            else { return false }
        }
        guard digits > 0 else { return false }
        var sum = 0
        for k in 0..<512 { sum += (148..<156).contains(k) ? 0x20 : Int(head[k]) }
        return sum == stored
    }
}
