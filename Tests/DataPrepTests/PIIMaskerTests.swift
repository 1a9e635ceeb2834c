@testable import DataPrep
import Testing
import TestSupport

@Suite struct PIIMaskerTests {
    static func masked(_ text: String) -> String { PIIMasker.mask(text).text }

    /// datatrove's e-mail test list (tests/pipeline/filters/test_pii_removal.py), with its
    /// expected output; "<EMAIL>" for its "EMAIL".
    @Test(arguments: [
        ("email@example.com", "<EMAIL>"),
        ("firstname.lastname@example.com", "<EMAIL>"),
        ("email@subdomain.example.com", "<EMAIL>"),
        ("firstname+lastname@example.com", "<EMAIL>"),
        ("email@123.123.123.123", "<EMAIL>"),
        ("email@[123.123.123.123]", "<EMAIL>"),
        ("\"email\"@example.com", "\"email\"@example.com"),
        ("1234567890@example.com", "<EMAIL>"),
        ("email@example-one.com", "<EMAIL>"),
        ("_______@example.com", "<EMAIL>"),
        ("email@example.co.jp", "<EMAIL>"),
        ("NAME@MYSITE.COM", "<EMAIL>"),
        ("much.”more\\ unusual”@example.com", "much.”more\\ unusual”@example.com"),
        ("very.unusual.”@”.unusual.com@example.com", "very.unusual.”@”.<EMAIL>"),
        ("plainaddress", "plainaddress"),
        ("#@%^%#$@#$@#.com", "#@%^%#$@#$@#.com"),
        ("@example.com", "@example.com"),
        ("Joe Smith <email@example.com>", "Joe Smith <<EMAIL>>"),
        ("email.example.com", "email.example.com"),
        ("email@example@example.com", "email@<EMAIL>"),
        (".email@example.com", ".<EMAIL>"),
        ("email.@example.com", "email.@example.com"),
        ("email..email@example.com", "email..<EMAIL>"),
        ("あいうえお@example.com", "あいうえお@example.com"),
        ("email@example.com (Joe Smith)", "<EMAIL> (Joe Smith)"),
        ("email@example", "email@example"),
        ("email@-example.com", "email@-example.com"),
        ("email@example.web", "<EMAIL>"),
        ("email@111.222.333.44444", "<EMAIL>"),
        ("email@example..com", "email@example..com"),
        ("Abc..123@example.com", "Abc..<EMAIL>"),
        ("”(),:;<>[\\]@example.com", "”(),:;<>[\\]@example.com"),
        ("just”not”right@example.com", "just”not”<EMAIL>"),
        ("this\\ is\"really\"not\\allowed@example.com", "this\\ is\"really\"not\\<EMAIL>"),
    ])
    func emailsAsDatatrove(_ input: String, _ expected: String) {
        #expect(Self.masked(input) == expected)
    }

    @Test(arguments: [
        ("Write to john.doe@mail.example.org.", "Write to <EMAIL>."),
        ("a@b.c-.d", "<EMAIL>-.d"),
        ("邮箱a.b@example.com谢谢", "邮箱<EMAIL>谢谢"),
        ("mailto:Support@Example.COM?subject=hi", "mailto:<EMAIL>?subject=hi"),
        ("@@@ a@@b.com x@y", "@@@ a@@b.com x@y"),
    ])
    func emailsInContext(_ input: String, _ expected: String) {
        #expect(Self.masked(input) == expected)
    }

    @Test func chineseContext() {
        let r = PIIMasker.mask("请联系 13800138000 或发邮件到 a.b@example.com。")
        #expect(r.text == "请联系 <PHONE> 或发邮件到 <EMAIL>。")
        #expect(r.counts == ["email": 1, "ip": 0, "phone": 1])
        #expect(Self.masked("电话：010-12345678，手机：13912345678。") == "电话：<PHONE>，手机：<PHONE>。")
        #expect(Self.masked("服务器地址是114.35.103.54。") == "服务器地址是<IP_ADDRESS>。")
    }

    /// datatrove's IP test list: invalid and local addresses stay, public ones go.
    @Test(arguments: [
        "999.999.999.999.", "108.0.0.01", "0.1.2.3", "00.0000.00.00", "192.168.l.1", "912.456.123.123",
        "192.168.o.0", "172.16.0.9", "172.16.4.1", "172.17.1.1", "127.0.0.2", "10.0.1.5", "10.0.0.1",
        "10.155.155.155", "10.255.255.254", "172.31.254.254", "192.168.1.2", "192.168.254.0",
    ])
    func invalidAndLocalIPv4Stays(_ address: String) {
        #expect(Self.masked("at \(address) now") == "at \(address) now")
    }

    @Test(arguments: [
        "163.36.107.25", "114.35.103.54", "57.120.21.121", "13.83.69.70", "29.116.31.158",
        "193.163.229.23", "211.160.67.46", "4.132.211.142", "214.70.227.4", "35.88.121.75",
        "2001:4860:4860::8888", "2a00:1450:4001:0829:0000:0000:0000:200e", "2606:4700:4700::1111",
        "::ffff:93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946",
    ])
    func publicAddressesGo(_ address: String) {
        let r = PIIMasker.mask("host \(address), up")
        #expect(r.text == "host <IP_ADDRESS>, up")
        #expect(r.counts["ip"] == 1)
    }

    @Test(arguments: [
        ("server 93.184.216.34.", "server <IP_ADDRESS>."),
        ("ip:93.184.216.34:53 and (151.101.1.69)", "ip:<IP_ADDRESS>:53 and (<IP_ADDRESS>)"),
        ("151.101.0.0/16", "<IP_ADDRESS>/16"),
        ("[2606:4700:4700::1111]:443", "[<IP_ADDRESS>]:443"),
        (".57.120.21.121", ".<IP_ADDRESS>"),
    ])
    func addressesInContext(_ input: String, _ expected: String) {
        #expect(Self.masked(input) == expected)
    }

    /// Version and section numbers, dates, times, scopes, MAC addresses and the special
    /// ranges are not addresses to mask.
    @Test(arguments: [
        "1.2.3", "1.2.3.4.5", "v1.2.3.4", "zlib 1.2.3.4", "Section 5.2.11.1", "Firefox/2.0.0.11",
        "2023.10.15", "15.10.2023", "12:30:45", "John 3:16", "std::vector", "Add::Bad", "Python 3::",
        "10:1::", "::", "::1", "fe80::1%eth0", "2001:db8::1", "ff02::1", "224.0.0.251",
        "00:1A:2B:3C:4D:5E", "::ffff:10.0.0.1", "8.8.8.8", "255.255.255.255",
    ])
    func notAddresses(_ text: String) {
        #expect(Self.masked("x \(text) y") == "x \(text) y")
    }

    @Test(arguments: [
        "+86 138 0013 8000", "+1 (555) 123-4567", "+1 555 123 4567", "+1-555-123-4567", "+1 (555)123-4567",
        "+44 20 7946 0958", "+44 (0)20 7946 0958", "+8613800138000", "555-123-4567", "(555) 123-4567",
        "(555)123-4567", "555.123.4567", "1-800-555-1234", "13800138000", "138-0013-8000", "138 0013 8000",
        "010-12345678", "0755-1234567", "(010)12345678", "(0755) 1234 5678", "021-1234-5678",
    ])
    func phoneNumbersGo(_ number: String) {
        let r = PIIMasker.mask("Call \(number) today.")
        #expect(r.text == "Call <PHONE> today.")
        #expect(r.counts["phone"] == 1)
    }

    @Test(arguments: [
        ("tel:+8613800138000", "tel:<PHONE>"),
        ("Phone: 701-234-7556, fax 701-234-7557", "Phone: <PHONE>, fax <PHONE>"),
        ("+86 138 0013 8000 2 apples", "<PHONE> 2 apples"),
        ("订房电话：800-820-6666，400-820-6666（手机）", "订房电话：<PHONE>，<PHONE>（手机）"),
        ("北京13901019711", "北京<PHONE>"),
    ])
    func phoneNumbersInContext(_ input: String, _ expected: String) {
        #expect(Self.masked(input) == expected)
    }

    /// Years, prices, plain numbers, ISBNs, versions, dates, card numbers, UUIDs and numbers
    /// glued to words or to longer numbers.
    @Test(arguments: [
        "2023", "in 2023 and 1999", "$1,299.00", "123456", "5551234567", "ISBN 978-7-111-12345-6",
        "ISBN9787111234567", "978-0-306-40615-7", "version 1.2.3", "v10.15.7", "2023-10-15", "15.10.2023",
        "2023/10/15", "4111 1111 1111 1111", "3.14138001380001", "abc13800138000", "13800138000123",
        "555-1234", "123-45-6789", "550e8400-e29b-41d4-a716-446655440000", "12800138000", "+100 points",
        "1+12345678", "x = 10 + 20", "+000000120", "+1 555 123 456", "QQ 282369262", "0-12345678",
    ])
    func notPhoneNumbers(_ text: String) {
        #expect(Self.masked("x \(text) y") == "x \(text) y")
    }

    @Test(arguments: [
        "", "Nothing to see here: 42 apples, 3.5 kg, 版本 1.2.3。",
        "The quick brown fox jumps over the lazy dog.", "中文文本，没有个人信息。😀",
    ])
    func textWithoutPIIIsUnchanged(_ text: String) {
        let r = PIIMasker.mask(text)
        #expect(r.text == text)
        #expect(r.counts == ["email": 0, "ip": 0, "phone": 0])
    }

    @Test func countsPerKind() {
        let r = PIIMasker.mask("a@b.co, c@d.org; 93.184.216.34; 555-123-4567 or 13800138000 😀")
        #expect(r.text == "<EMAIL>, <EMAIL>; <IP_ADDRESS>; <PHONE> or <PHONE> 😀")
        #expect(r.counts == ["email": 2, "ip": 1, "phone": 2])
    }

    /// A megabyte of each hostile pattern: every scanner must stay linear (a quadratic one
    /// would not finish). None of them holds PII, but "a.b@a.b" does.
    @Test(arguments: ["@", "1", ".", ":", "a@", "1.", "1:", "+1 ", "a.", "-1", "(1", "::1:", "1.1.1.1.", "a.b@"])
    func megabyteOfOneUnitIsLinear(_ unit: String) {
        let text = String(repeating: unit, count: 1_000_000 / unit.utf8.count)
        let r = PIIMasker.mask(text)
        #expect(r.counts["ip"] == 0 && r.counts["phone"] == 0)
        if unit == "a.b@" {
            #expect(r.counts["email"] == 1_000_000 / 8)
        } else {
            #expect(r.text == text)
        }
    }

    /// A long e-mail-shaped run, and a megabyte of real addresses.
    @Test func longInputs() {
        let local = String(repeating: "a", count: 500_000) + "@" + String(repeating: "b", count: 500_000) + ".com"
        #expect(PIIMasker.mask(local).text == "<EMAIL>")
        let many = String(repeating: "x@y.org 93.184.216.34 555-123-4567 ", count: 30_000)
        let r = PIIMasker.mask(many)
        #expect(r.counts == ["email": 30_000, "ip": 30_000, "phone": 30_000])
        #expect(r.text == String(repeating: "<EMAIL> <IP_ADDRESS> <PHONE> ", count: 30_000))
    }

    // MARK: - Naive references

    /// datatrove's e-mail pattern matched the slow, obvious way: at each start from the left,
    /// a word boundary, a dot-atom local part up to the next "@", and the longest domain that
    /// fits the grammar (what the greedy regex takes).
    static func naiveEmails(_ b: [UInt8]) -> [Range<Int>] {
        func word(_ i: Int) -> Bool { i >= 0 && i < b.count && PIIMasker.isWord(b[i]) }
        func isLabel(_ r: ArraySlice<UInt8>) -> Bool {
            guard let first = r.first, let last = r.last else { return false }
            return PIIMasker.isAlnum(first) && PIIMasker.isAlnum(last)
                && r.allSatisfy { PIIMasker.isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
        func isOctet(_ r: ArraySlice<UInt8>) -> Bool {
            (1...3).contains(r.count) && r.allSatisfy(PIIMasker.isDigit)
                && Int(String(decoding: r, as: UTF8.self)).map { $0 <= 255 } == true
        }
        func isDomain(_ r: ArraySlice<UInt8>) -> Bool {
            let labels = r.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            if labels.count >= 2 && labels.allSatisfy(isLabel) { return true }
            guard r.first == UInt8(ascii: "["), r.last == UInt8(ascii: "]"), r.count >= 9 else { return false }
            let octets = r.dropFirst().dropLast().split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            return octets.count == 4 && octets.allSatisfy(isOctet)
        }
        func isLocal(_ r: ArraySlice<UInt8>) -> Bool {
            let atoms = r.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
            return atoms.allSatisfy { !$0.isEmpty && $0.allSatisfy { PIIMasker.atext[Int($0)] } }
        }
        var found: [Range<Int>] = []
        var s = 0
        while s < b.count {
            if word(s) != word(s - 1), let at = b[s...].firstIndex(of: UInt8(ascii: "@")), at > s,
               isLocal(b[s..<at]),
               let end = stride(from: b.count, through: at + 2, by: -1).first(where: { isDomain(b[(at + 1)..<$0]) }) {
                found.append(s..<end)
                s = end
            } else {
                s += 1
            }
        }
        return found
    }

    @Test func emailScannerMatchesTheNaiveReference() {
        // Pieces that make addresses often (about one string in eight holds one).
        let alphabet = ["a", "B", "1", ".", "..", "@", "@", "-", "_", "+", "[", "]", " ", "中", "'", "0", "255",
                        "x.co", "a-b", "[1.2.3.4]", "[1.2.3.256]", "@x.y"]
        var random = TestRandom(seed: 42)
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<random.below(12) { text += alphabet[random.below(alphabet.count)] }
            let b = Array(text.utf8)
            #expect(PIIMasker.emails(b) == Self.naiveEmails(b), "\(text)")
        }
    }

    @Test func ipv4ParserMatchesTheNaiveReference() {
        func naive(_ s: String) -> Bool {
            let parts = s.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts.allSatisfy { p in
                (1...3).contains(p.count) && p.allSatisfy(\.isASCII) && p.allSatisfy(\.isNumber)
                    && !(p.count > 1 && p.first == "0") && Int(p).map { $0 <= 255 } == true
            }
        }
        let alphabet = ["0", "1", "2", "5", "9", ".", ".", "."]
        var random = TestRandom(seed: 7)
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<random.below(16) { text += alphabet[random.below(alphabet.count)] }
            let b = Array(text.utf8)
            #expect((PIIMasker.ipv4(b, 0, b.count) != nil) == naive(text), "\(text)")
        }
    }
}
