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
            guard head.count >= offset + magic.count else { return false }
            for k in 0..<magic.count where head[offset + k] != magic[k] { return false }
            return true
        }
        for (offset, magic, kind) in Self.magics where at(offset, magic) {
            if case .compressed(.bzip2) = kind, !(head.count > 3 && (0x31...0x39).contains(head[3])) { continue }
            if case .compressed(.lzma) = kind, !name.lowercased().hasSuffix(".lzma") { continue }
            if case .binary = kind, magic.count <= 2, controlFraction(head) < 0.05 {
                // "BM" and "MZ" are short: only trust them when the rest is not text.
                continue
            }
            return kind
        }
        if isV7TarHeader(head) { return .archive(.tar) }
        let (hasNUL, controls) = scanControls(head)
        if hasNUL && !isUTF16(head) { return .binary("binary:nul") }
        if at(0, Self.warcMagic) { return .warc }

        var body = head[...]
        if head.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
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
        if !isUTF16(head) && Double(controls) > 0.1 * Double(head.count) { return .binary("binary:control-bytes") }
        return .text
    }

    /// Magic numbers, checked in order.
    static let magics: [(Int, [UInt8], ContentKind)] = [
        (0, [0x1F, 0x8B], .compressed(.gzip)),
        (0, [0x28, 0xB5, 0x2F, 0xFD], .compressed(.zstd)),
        (0, [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00], .compressed(.xz)),
        (0, [0x42, 0x5A, 0x68], .compressed(.bzip2)),
        (0, [0x04, 0x22, 0x4D, 0x18], .compressed(.lz4)),
        (0, [0x5D, 0x00, 0x00], .compressed(.lzma)),
        (0, [0x50, 0x4B, 0x03, 0x04], .archive(.zip)),
        (0, [0x50, 0x4B, 0x05, 0x06], .archive(.zip)),   // empty zip
        (0, [0x50, 0x4B, 0x07, 0x08], .archive(.zip)),   // spanned zip
        (0, [0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C], .archive(.sevenZip)),
        (257, Array("ustar".utf8), .archive(.tar)),
        (0, Array("070701".utf8), .archive(.cpio)),
        (0, Array("070702".utf8), .archive(.cpio)),
        (0, Array("070707".utf8), .archive(.cpio)),
        (0, [0xC7, 0x71], .archive(.cpio)),
        (0, [0x71, 0xC7], .archive(.cpio)),
        (0, Array("!<arch>\n".utf8), .archive(.ar)),
        // Binary formats that hold no text for us.
        (0, [0x89, 0x50, 0x4E, 0x47], .binary("binary:image")),          // PNG
        (0, [0xFF, 0xD8, 0xFF], .binary("binary:image")),                // JPEG
        (0, Array("GIF8".utf8), .binary("binary:image")),
        (0, Array("BM".utf8), .binary("binary:image")),
        (8, Array("WEBP".utf8), .binary("binary:image")),
        (0, Array("%PDF".utf8), .binary("binary:pdf")),
        (0, [0x7F, 0x45, 0x4C, 0x46], .binary("binary:executable")),     // ELF
        (0, Array("MZ".utf8), .binary("binary:executable")),             // PE
        (0, [0xCF, 0xFA, 0xED, 0xFE], .binary("binary:executable")),     // Mach-O
        (0, [0xCA, 0xFE, 0xBA, 0xBE], .binary("binary:executable")),     // Java class, fat Mach-O
        (0, [0x00, 0x61, 0x73, 0x6D], .binary("binary:executable")),     // wasm
        (0, Array("SQLite format 3".utf8), .binary("binary:database")),
        (0, [0xD0, 0xCF, 0x11, 0xE0], .binary("binary:office")),
        (4, Array("ftyp".utf8), .binary("binary:media")),
        (0, Array("ID3".utf8), .binary("binary:media")),
        (0, Array("OggS".utf8), .binary("binary:media")),
        (0, Array("RIFF".utf8), .binary("binary:media")),
        (0, [0x1A, 0x45, 0xDF, 0xA3], .binary("binary:media")),          // Matroska, WebM
        (0, Array("wOFF".utf8), .binary("binary:font")),
        (0, Array("Rar!".utf8), .binary("binary:rar")),
    ]

    static let warcMagic = Array("WARC/1.".utf8)

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
        return Double(scanControls(head).controls) / Double(head.count)
    }

    /// Whether `head` holds a NUL byte, and how many control characters it holds; one pass that
    /// skips eight bytes at a time while none is below 0x20.
    static func scanControls(_ head: [UInt8]) -> (hasNUL: Bool, controls: Int) {
        head.withUnsafeBufferPointer { b in
            var nul = false
            var n = 0
            var i = 0
            let count = b.count
            let raw = UnsafeRawPointer(b.baseAddress)
            while i < count {
                if i + 8 <= count {
                    let w = raw!.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    if !SWAR.hasByte(below: 0x20, in: w) { i += 8; continue }
                }
                let c = b[i]
                if c < 0x20 {
                    if c == 0 { nul = true }
                    n += (c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0C || c == 0x1B) ? 0 : 1
                }
                i += 1
            }
            return (nul, n)
        }
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
