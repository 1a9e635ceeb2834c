#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Character-set conversion to UTF-8 through the C library's iconv (glibc knows GB18030,
/// Big5, UTF-16 and the rest).
public enum Charset {
    /// Converts `bytes` from `encoding` to UTF-8. Returns nil when the input is not valid in that
    /// encoding (strict: nothing is replaced or skipped).
    public static func toUTF8(_ bytes: [UInt8], from encoding: String) -> [UInt8]? {
        convert(bytes, from: encoding, to: "UTF-8")
    }

    /// Converts between any two encodings iconv knows; nil when the input is invalid or a
    /// character has no equivalent in the target.
    public static func convert(_ bytes: [UInt8], from encoding: String, to target: String) -> [UInt8]? {
        let cd = iconv_open(target, encoding)
        if cd == iconv_t(bitPattern: -1) { return nil }
        defer { iconv_close(cd) }
        if bytes.isEmpty { return [] }
        var out = [UInt8](repeating: 0, count: bytes.count * 2 + 16)
        var produced = 0
        var input = bytes
        let ok: Bool = input.withUnsafeMutableBytes { inRaw -> Bool in
            var inPtr: UnsafeMutablePointer<CChar>? = inRaw.baseAddress!.assumingMemoryBound(to: CChar.self)
            var inLeft = inRaw.count
            while true {
                let capacity = out.count
                let result: Int = out.withUnsafeMutableBytes { outRaw -> Int in
                    var outPtr: UnsafeMutablePointer<CChar>? =
                        (outRaw.baseAddress! + produced).assumingMemoryBound(to: CChar.self)
                    var outLeft = capacity - produced
                    let r = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                    produced = capacity - outLeft
                    return r == -1 ? Int(errno) : 0
                }
                if result == 0 {
                    // Flush any shift state.
                    return true
                }
                if result == E2BIG {
                    out.append(contentsOf: repeatElement(0, count: out.count))
                    continue
                }
                return false  // EILSEQ or EINVAL: invalid or incomplete sequence
            }
        }
        guard ok else { return nil }
        out.removeSubrange(produced...)
        return out
    }
}
