/// Masks personal data in text: e-mail addresses, IP addresses and phone numbers.
///
/// Hand-written scanners over the UTF-8 bytes, one pass per kind (e-mail, then IP, then phone,
/// each over the previous pass's output, as datatrove's `PIIFormatter` runs its e-mail and IP
/// replacers). Every pass is linear: a scan never looks back past the end of the previous
/// match, and phone candidates are at most `maxPhoneBytes` long. Only ASCII bytes are
/// replaced, so the output is valid UTF-8 whenever the input is.
///
/// - E-mail: datatrove's pattern (a dot-atom local part of RFC 5322 `atext`, `@`, two or more
///   dot-separated labels of letters, digits and inner hyphens, or an IPv4 literal in
///   brackets), matched case-insensitively (datatrove's test masks `NAME@MYSITE.COM`). The
///   local part starts at a word boundary; only ASCII letters, digits and `_` are word
///   characters, so an address right after Chinese text (`邮箱a.b@example.com`) is masked whole
///   where Python's Unicode `\b` would cut it.
/// - IP: IPv4 as four decimal octets 0-255 without leading zeros, and IPv6 (eight groups, or
///   fewer with one `::`, optionally ending in an IPv4 address), masked only when globally
///   routable, as datatrove's default `only_remove_public_ips` (Python's `is_global`):
///   private, loopback, link-local, documentation and other special-purpose ranges are left,
///   since they identify no one; so is multicast, which Python counts as global. Unlike
///   datatrove's unanchored regex, the address must be the whole dotted or colon token:
///   `1.2.3.4.5` and `v1.2.3.4` are left, and so are `1.2.3` and dates. Two heuristics keep
///   technical text intact: an IPv4 address whose octets are all below 32 is taken for a
///   version or section number (`zlib 1.2.3.4`, `Section 5.2.11.1`; so `8.8.8.8` stays too),
///   and an IPv6 address needs a decimal digit and, when compressed, at least three groups
///   (`Add::Bad`, `Python 3::`, `10:1::` stay).
/// - Phone: international (`+` and 8-15 digits in groups: `+86 138 0013 8000`,
///   `+1 (555) 123-4567`), North American (`555-123-4567`, `555.123.4567`, `(555) 123-4567`,
///   `1-800-555-1234`), Chinese mobile (`13800138000`, `138-0013-8000`, `138 0013 8000`) and
///   Chinese landline (`010-12345678`, `(0755) 1234 5678`). The number must not touch letters,
///   digits or `_`, nor continue a dotted or dashed number (`3.14138001380001`,
///   `978-7-111-...`), so years, prices, ISBNs, version strings and plain numbers
///   (`123456`, `5551234567`) stay.
public enum PIIMasker {
    /// Replaces e-mail addresses with "<EMAIL>", IPv4 and IPv6 addresses with "<IP_ADDRESS>", and phone numbers with "<PHONE>"; returns the new text and counts per kind ("email", "ip", "phone").
    ///
    /// `counts` always has the three keys. Text without a match is returned as it was.
    public static func mask(_ text: String) -> (text: String, counts: [String: Int]) {
        var bytes = Array(text.utf8)
        var counts: [String: Int] = [:]
        var changed = false
        for kind in Kind.allCases {
            let matches = kind.scan(bytes)
            counts[kind.key] = matches.count
            if !matches.isEmpty {
                bytes = replace(bytes, matches, with: kind.token)
                changed = true
            }
        }
        return (changed ? String(decoding: bytes, as: UTF8.self) : text, counts)
    }

    enum Kind: CaseIterable {
        case email, ip, phone

        var key: String {
            switch self {
            case .email: return "email"
            case .ip: return "ip"
            case .phone: return "phone"
            }
        }

        var token: String {
            switch self {
            case .email: return "<EMAIL>"
            case .ip: return "<IP_ADDRESS>"
            case .phone: return "<PHONE>"
            }
        }

        func scan(_ b: [UInt8]) -> [Range<Int>] {
            switch self {
            case .email: return PIIMasker.emails(b)
            case .ip: return PIIMasker.ipAddresses(b)
            case .phone: return PIIMasker.phoneNumbers(b)
            }
        }
    }

    /// `b` with each of the sorted, disjoint `ranges` replaced by `token`.
    static func replace(_ b: [UInt8], _ ranges: [Range<Int>], with token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count + ranges.count * 8)
        var last = 0
        for r in ranges {
            out.append(contentsOf: b[last..<r.lowerBound])
            out.append(contentsOf: token.utf8)
            last = r.upperBound
        }
        out.append(contentsOf: b[last...])
        return out
    }
}

// MARK: - Byte classes

extension PIIMasker {
    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool {
        isDigit(c) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x7A)
    }

    /// A word character for `\b`: ASCII letters, digits and `_` (see the type's comment).
    @inline(__always) static func isWord(_ c: UInt8) -> Bool { isAlnum(c) || c == 0x5F }

    @inline(__always) static func isHex(_ c: UInt8) -> Bool {
        isDigit(c) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x66)
    }

    /// RFC 5322 `atext` as datatrove's pattern lists it: letters, digits and
    /// ``!#$%&'*+/=?^_`{|}~-``.
    static let atext: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for c in UInt8(0x30)...0x39 { t[Int(c)] = true }
        for c in UInt8(0x41)...0x5A { t[Int(c)] = true; t[Int(c | 0x20)] = true }
        for c in "!#$%&'*+/=?^_`{|}~-".utf8 { t[Int(c)] = true }
        return t
    }()
}

// MARK: - E-mail

extension PIIMasker {
    static func emails(_ b: [UInt8]) -> [Range<Int>] {
        let n = b.count
        let atext = PIIMasker.atext
        var found: [Range<Int>] = []
        var lastEnd = 0
        var i = 0
        while i < n {
            guard b[i] == 0x40 else { i += 1; continue }  // "@"
            let at = i
            i += 1
            // The run of local-part bytes before "@"; it cannot reach past an earlier "@".
            var s = at
            while s > lastEnd && (atext[Int(b[s - 1])] || b[s - 1] == 0x2E) { s -= 1 }
            guard s < at, b[at - 1] != 0x2E else { continue }
            // The leftmost start after the last "..", not on a dot, at a word boundary.
            var lo = s
            for k in s..<(at - 1) where b[k] == 0x2E && b[k + 1] == 0x2E { lo = k + 2 }
            var start = -1
            for k in lo..<at where b[k] != 0x2E {
                let before = k > 0 && isWord(b[k - 1])
                if isWord(b[k]) != before { start = k; break }
            }
            guard start >= 0, let end = emailDomainEnd(b, at + 1) else { continue }
            found.append(start..<end)
            lastEnd = end
            i = end
        }
        return found
    }

    /// The end of the domain that starts at `q`: labels `[a-z0-9]([a-z0-9-]*[a-z0-9])?` joined
    /// by single dots, at least two, taken greedily as the regex does; or `[a.b.c.d]`.
    static func emailDomainEnd(_ b: [UInt8], _ q: Int) -> Int? {
        let n = b.count
        guard q < n else { return nil }
        if b[q] == 0x5B {  // "["
            var p = q + 1
            for part in 0..<4 {
                var value = 0, digits = 0
                while p < n && isDigit(b[p]) && digits < 3 {
                    value = value * 10 + Int(b[p] - 0x30)
                    digits += 1
                    p += 1
                }
                guard digits > 0, value <= 255, p < n else { return nil }
                if part < 3 {
                    guard b[p] == 0x2E else { return nil }
                } else {
                    guard b[p] == 0x5D else { return nil }  // "]"
                }
                p += 1
            }
            return p
        }
        var labels = 0
        var end = q
        var p = q
        while p < n && isAlnum(b[p]) {
            var e = p
            while e < n && (isAlnum(b[e]) || b[e] == 0x2D) { e += 1 }
            var labelEnd = e
            while b[labelEnd - 1] == 0x2D { labelEnd -= 1 }  // stops: b[p] is alphanumeric
            labels += 1
            end = labelEnd
            guard labelEnd == e, e + 1 < n, b[e] == 0x2E, isAlnum(b[e + 1]) else { break }
            p = e + 1
        }
        return labels >= 2 ? end : nil
    }
}

// MARK: - IP addresses

extension PIIMasker {
    static func ipAddresses(_ b: [UInt8]) -> [Range<Int>] {
        let n = b.count
        var found: [Range<Int>] = []
        var i = 0
        while i < n {
            // A maximal run of hex digits, dots and colons holding a digit and a separator.
            guard isHex(b[i]) || b[i] == 0x2E || b[i] == 0x3A else { i += 1; continue }
            let runStart = i
            var digit = false, separator = false
            while i < n && (isHex(b[i]) || b[i] == 0x2E || b[i] == 0x3A) {
                if isDigit(b[i]) { digit = true } else if b[i] == 0x2E || b[i] == 0x3A { separator = true }
                i += 1
            }
            guard digit && separator else { continue }
            // Sentence dots and a lone colon around the address are punctuation ("ip:8.8.8.8.").
            var a = runStart, z = i
            while a < z && b[a] == 0x2E { a += 1 }
            if z - a >= 2 && b[a] == 0x3A && b[a + 1] != 0x3A { a += 1 }
            while z > a && b[z - 1] == 0x2E { z -= 1 }
            if z - a >= 2 && b[z - 1] == 0x3A && b[z - 2] != 0x3A { z -= 1 }
            guard a < z else { continue }
            // The token must not be glued to a word ("v1.2.3.4", "1.2.3.4th").
            if a > 0 && isWord(b[a - 1]) { continue }
            if z < n && isWord(b[z]) { continue }
            if let v4 = ipv4(b, a, z) {
                if isGlobal(v4) && !looksLikeVersion(v4) { found.append(a..<z) }
                continue
            }
            var colon = a
            while colon < z && b[colon] != 0x3A { colon += 1 }
            guard colon < z else { continue }
            if let v6 = ipv6(b, a, z) {
                if isGlobal(v6) && b[a..<z].contains(where: isDigit) { found.append(a..<z) }
            } else if let v4 = ipv4(b, a, colon), colon + 1 < z,
                      b[(colon + 1)..<z].allSatisfy(isDigit), isGlobal(v4), !looksLikeVersion(v4) {
                found.append(a..<colon)  // address and port: "8.8.8.8:53"
            }
        }
        return found
    }

    /// Four decimal octets 0-255 without leading zeros (Python's `ipaddress` rejects them),
    /// filling `b[a..<z]` exactly.
    static func ipv4(_ b: [UInt8], _ a: Int, _ z: Int) -> UInt32? {
        var value: UInt32 = 0
        var p = a
        for part in 0..<4 {
            let s = p
            var octet: UInt32 = 0
            while p < z && isDigit(b[p]) && p - s < 3 {
                octet = octet * 10 + UInt32(b[p] - 0x30)
                p += 1
            }
            guard p > s, octet <= 255, !(b[s] == 0x30 && p - s > 1) else { return nil }
            value = value << 8 | octet
            if part < 3 {
                guard p < z, b[p] == 0x2E else { return nil }
                p += 1
            }
        }
        return p == z ? value : nil
    }

    /// An IPv6 address filling `b[a..<z]`: eight groups of 1-4 hex digits, or fewer with one
    /// `::` standing for at least one zero group; the last 32 bits may be written as IPv4.
    static func ipv6(_ b: [UInt8], _ a: Int, _ z: Int) -> [UInt16]? {
        var head: [UInt16] = [], tail: [UInt16] = []
        var compressed = false
        var p = a
        if z - a >= 2 && b[a] == 0x3A && b[a + 1] == 0x3A {
            compressed = true
            p = a + 2
        }
        while p < z {
            if head.count + tail.count > 8 { return nil }
            // One group, or the dotted IPv4 tail.
            let s = p
            while p < z && isHex(b[p]) && p - s < 5 { p += 1 }
            if p < z && b[p] == 0x2E {
                var e = p
                while e < z && (isDigit(b[e]) || b[e] == 0x2E) { e += 1 }
                guard e == z, let v4 = ipv4(b, s, z) else { return nil }
                let pair = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                if compressed { tail += pair } else { head += pair }
                p = z
                break
            }
            guard p > s, p - s <= 4 else { return nil }
            var group: UInt16 = 0
            for k in s..<p {
                let c = b[k] | 0x20
                group = group << 4 | UInt16(c <= 0x39 ? c - 0x30 : c - 0x61 + 10)
            }
            if compressed { tail.append(group) } else { head.append(group) }
            if p == z { break }
            guard b[p] == 0x3A else { return nil }
            if p + 1 < z && b[p + 1] == 0x3A {
                guard !compressed else { return nil }  // a second "::"
                compressed = true
                p += 2
            } else {
                p += 1
                guard p < z else { return nil }  // a trailing single ":"
            }
        }
        let explicit = head.count + tail.count
        if compressed {
            // "1::", "UTF-8::", "10:1::" are reStructuredText literal markers, C++ scopes and
            // traffic classes far more often than addresses.
            guard explicit >= 3, explicit <= 7 else { return nil }
            return head + [UInt16](repeating: 0, count: 8 - explicit) + tail
        }
        return explicit == 8 ? head : nil
    }

    /// All four octets below 32: "zlib 1.2.3.4", "Section 5.2.11.1", "Linux 2.6.18.3". A
    /// public address looks like this with odds of about 1 in 4,000; version and section
    /// numbers nearly always do.
    static func looksLikeVersion(_ v: UInt32) -> Bool { v & 0xE0E0_E0E0 == 0 }

    /// Not in a special-purpose range of RFC 6890 and its updates (Python's
    /// `IPv4Address.is_global`), and not multicast.
    static func isGlobal(_ v: UInt32) -> Bool {
        !specialIPv4.contains { v >> (32 - $0.bits) == $0.net >> (32 - $0.bits) }
    }

    static let specialIPv4: [(net: UInt32, bits: UInt32)] = [
        (0x0000_0000, 8),   // 0.0.0.0/8 "this network"
        (0x0A00_0000, 8),   // 10.0.0.0/8 private
        (0x6440_0000, 10),  // 100.64.0.0/10 shared address space
        (0x7F00_0000, 8),   // 127.0.0.0/8 loopback
        (0xA9FE_0000, 16),  // 169.254.0.0/16 link-local
        (0xAC10_0000, 12),  // 172.16.0.0/12 private
        (0xC000_0000, 24),  // 192.0.0.0/24 IETF protocol assignments
        (0xC000_0200, 24),  // 192.0.2.0/24 documentation
        (0xC0A8_0000, 16),  // 192.168.0.0/16 private
        (0xC612_0000, 15),  // 198.18.0.0/15 benchmarking
        (0xC633_6400, 24),  // 198.51.100.0/24 documentation
        (0xCB00_7100, 24),  // 203.0.113.0/24 documentation
        (0xE000_0000, 4),   // 224.0.0.0/4 multicast (Python counts it global; it names no host)
        (0xF000_0000, 4),   // 240.0.0.0/4 reserved, and the broadcast address
    ]

    /// As Python's `IPv6Address.is_global`, and not multicast; IPv4-mapped and IPv4-compatible addresses are
    /// judged by their IPv4 address.
    static func isGlobal(_ g: [UInt16]) -> Bool {
        if g[0...4].allSatisfy({ $0 == 0 }) && (g[5] == 0xFFFF || g[5] == 0) {
            if g[5] == 0 && g[6] == 0 && g[7] <= 1 { return false }  // :: and ::1
            return isGlobal(UInt32(g[6]) << 16 | UInt32(g[7]))
        }
        if g[0] == 0x0064 && g[1] == 0xFF9B && g[2] == 0x0001 { return false }  // 64:ff9b:1::/48
        if g[0] == 0x0100 && g[1] == 0 && g[2] == 0 && g[3] == 0 { return false }  // 100::/64 discard
        if g[0] == 0x2001 && g[1] < 0x0200 { return false }  // 2001::/23 IETF protocols
        if g[0] == 0x2001 && g[1] == 0x0DB8 { return false }  // 2001:db8::/32 documentation
        if g[0] == 0x2002 { return false }  // 2002::/16 6to4
        if g[0] & 0xFE00 == 0xFC00 { return false }  // fc00::/7 unique local
        if g[0] & 0xFFC0 == 0xFE80 { return false }  // fe80::/10 link-local
        if g[0] & 0xFF00 == 0xFF00 { return false }  // ff00::/8 multicast, as for IPv4
        return true
    }
}

// MARK: - Phone numbers

extension PIIMasker {
    /// The longest phone number looked for, in bytes (`+1 (555) 123-4567` is 17).
    static let maxPhoneBytes = 32

    static func phoneNumbers(_ b: [UInt8]) -> [Range<Int>] {
        let n = b.count
        var found: [Range<Int>] = []
        var i = 0
        while i < n {
            let c = b[i]
            guard isDigit(c) || c == 0x2B || c == 0x28, phoneMayStart(b, i) else { i += 1; continue }
            let end = c == 0x2B ? internationalPhoneEnd(b, i)
                : northAmericanPhoneEnd(b, i) ?? chineseMobileEnd(b, i) ?? chineseLandlineEnd(b, i)
            if let end, phoneMayEnd(b, end) {
                found.append(i..<end)
                i = end
            } else {
                i += 1
            }
        }
        return found
    }

    /// Not inside a word or a longer number: no letter, digit or `_` before, no `+` or `(`
    /// glued to one, and no `-./:` right after a digit.
    static func phoneMayStart(_ b: [UInt8], _ i: Int) -> Bool {
        guard i > 0 else { return true }
        let p = b[i - 1]
        if isWord(p) { return false }
        if p == 0x2D || p == 0x2E || p == 0x2F || p == 0x3A {
            return !(i > 1 && isDigit(b[i - 2]))
        }
        return true
    }

    /// The same at the end: no letter, digit or `_` after, and no `-./:` before a digit.
    static func phoneMayEnd(_ b: [UInt8], _ e: Int) -> Bool {
        guard e < b.count else { return true }
        let c = b[e]
        if isWord(c) { return false }
        if c == 0x2D || c == 0x2E || c == 0x2F || c == 0x3A {
            return !(e + 1 < b.count && isDigit(b[e + 1]))
        }
        return true
    }

    /// The number of digits from `p`, stopping at 16 (no phone group is that long).
    @inline(__always) static func digitRun(_ b: [UInt8], _ p: Int) -> Int {
        var e = p
        while e < b.count && isDigit(b[e]) && e - p < 16 { e += 1 }
        return e - p
    }

    @inline(__always) static func byte(_ b: [UInt8], _ p: Int) -> UInt8 { p < b.count ? b[p] : 0 }

    /// A space, `-` or `.` between the digit groups of a phone number.
    @inline(__always) static func isSeparator(_ c: UInt8) -> Bool { c == 0x20 || c == 0x2D || c == 0x2E }

    /// `+`, then digit groups joined by one space, `-` or `.`, or in parentheses: 8-15 digits
    /// (E.164). A separated country code 1 takes 10 more digits, 86 at most 11, others at
    /// most 15 in all, so a number that follows after a space is not swallowed.
    static func internationalPhoneEnd(_ b: [UInt8], _ i: Int) -> Int? {
        var p = i + 1
        let first = digitRun(b, p)
        // No country code starts with 0 ("+000000120" is a UTC offset).
        guard first > 0, first <= 15, b[p] != 0x30 else { return nil }
        var total = first
        var limit = 15
        p += first
        var end = p
        if first <= 3 && isSeparator(byte(b, p)) {
            var code = 0
            for k in (i + 1)..<p { code = code * 10 + Int(b[k] - 0x30) }
            if code == 1 { limit = 11 } else if code == 86 { limit = 13 }
        }
        var afterParenthesis = false
        while p - i < maxPhoneBytes {
            // A separator (none needed after ")"), then digits, or digits in parentheses.
            var q = p
            if isSeparator(byte(b, q)) { q += 1 }
            let parenthesized = byte(b, q) == 0x28
            if parenthesized { q += 1 }
            let run = digitRun(b, q)
            guard run > 0, q > p || afterParenthesis, total + run <= limit else { break }
            q += run
            if parenthesized {
                guard byte(b, q) == 0x29 else { break }
                q += 1
            }
            total += run
            p = q
            end = q
            afterParenthesis = parenthesized
        }
        return total >= 8 && (limit != 11 || total == 11) ? end : nil
    }

    /// `555-123-4567`, `555.123.4567`, `(555) 123-4567`, `(555)123-4567`, with an optional
    /// leading `1-`, `1.` or `1 `; the last group has exactly four digits.
    static func northAmericanPhoneEnd(_ b: [UInt8], _ i: Int) -> Int? {
        var p = i
        if byte(b, p) == 0x31 && isSeparator(byte(b, p + 1))
            && (isDigit(byte(b, p + 2)) || byte(b, p + 2) == 0x28) {
            p += 2
        }
        let sep: UInt8
        if byte(b, p) == 0x28 {
            guard digitRun(b, p + 1) == 3, byte(b, p + 4) == 0x29 else { return nil }
            p += 5
            if isSeparator(byte(b, p)) { p += 1 }
            guard digitRun(b, p) == 3 else { return nil }
            p += 3
            sep = byte(b, p)
            guard sep == 0x2D || sep == 0x2E || sep == 0x20 else { return nil }
        } else {
            guard digitRun(b, p) == 3 else { return nil }
            p += 3
            sep = byte(b, p)
            guard sep == 0x2D || sep == 0x2E, digitRun(b, p + 1) == 3 else { return nil }
            p += 4
            guard byte(b, p) == sep else { return nil }
        }
        guard digitRun(b, p + 1) == 4 else { return nil }
        return p + 5
    }

    /// `1[3-9]` and nine more digits: together, or as 3-4-4 joined by `-` or a space.
    static func chineseMobileEnd(_ b: [UInt8], _ i: Int) -> Int? {
        guard byte(b, i) == 0x31, byte(b, i + 1) >= 0x33, byte(b, i + 1) <= 0x39 else { return nil }
        let run = digitRun(b, i)
        if run == 11 { return i + 11 }
        guard run == 3 else { return nil }
        let sep = byte(b, i + 3)
        guard sep == 0x2D || sep == 0x20, digitRun(b, i + 4) == 4, byte(b, i + 8) == sep,
              digitRun(b, i + 9) == 4 else { return nil }
        return i + 13
    }

    /// An area code `0` and 2-3 more digits (not `00`), followed by `-` or a space or in
    /// parentheses, then 7-8 digits, together or as 3-4 or 4-4 joined by `-` or a space.
    static func chineseLandlineEnd(_ b: [UInt8], _ i: Int) -> Int? {
        var p = i
        let parenthesized = byte(b, p) == 0x28
        if parenthesized { p += 1 }
        guard byte(b, p) == 0x30, byte(b, p + 1) != 0x30 else { return nil }
        let area = digitRun(b, p)
        guard area == 3 || area == 4 else { return nil }
        p += area
        if parenthesized {
            guard byte(b, p) == 0x29 else { return nil }
            p += 1
            if byte(b, p) == 0x20 || byte(b, p) == 0x2D { p += 1 }
        } else {
            guard byte(b, p) == 0x2D || byte(b, p) == 0x20 else { return nil }
            p += 1
        }
        let first = digitRun(b, p)
        if first == 7 || first == 8 { return p + first }
        guard first == 3 || first == 4 else { return nil }
        let sep = byte(b, p + first)
        guard sep == 0x2D || sep == 0x20, digitRun(b, p + first + 1) == 4 else { return nil }
        return p + first + 5
    }
}
