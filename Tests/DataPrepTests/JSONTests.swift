@testable import DataPrep
import Testing

@Suite struct JSONTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":"x"}"#,
        #"{"n":-0.5e+10,"big":123456789012345678901234567890}"#,
        #"{"text":"line\nbreak \"quoted\" back\\slash \u0001"}"#,
        #"{"zh":"中文","emoji":"😀"}"#,
        #"[]"#, #"{}"#, #""""#,
    ])
    func roundTripKeepsOrderAndDigits(_ text: String) throws {
        let v = try JSONParser.parse(Array(text.utf8))
        var w = JSONWriter()
        w.write(v)
        #expect(String(decoding: w.bytes, as: UTF8.self) == text)
    }

    @Test func escapesAndSurrogates() throws {
        let v = try JSONParser.parse(Array(#"{"s":"\ud83d\ude00 \u4e2d \/ \t","lone":"\ud800x"}"#.utf8))
        #expect(v["s"]?.stringValue == "😀 中 / \t")
        #expect(v["lone"]?.stringValue == "\u{FFFD}x")
    }

    @Test(arguments: [
        (#"{"a":1,}"#, 7), (#"{"a" 1}"#, 5), ("[1,2", 4), (#"{"a":"x"} extra"#, 10),
        (#"{"a":01}"#, 6), ("\"tab\there\"", 4), ("nul", 0),
    ])
    func errorsNameTheOffset(_ text: String, _ offset: Int) {
        do {
            _ = try JSONParser.parse(Array(text.utf8))
            Issue.record("expected an error for \(text)")
        } catch let e as JSONParseError {
            #expect(e.offset == offset, "\(text): \(e)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { _ = try JSONParser.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { _ = try JSONParser.parse(Array(ok.utf8)) }
    }

    @Test func documentLineRoundTrip() throws {
        let d = Document(id: "abc", text: "Hello\n世界 \"q\"",
                         source: DocumentSource(input: "a.tar", member: "x/y.txt", url: "https://e.org/", record: "<urn:uuid:1>"),
                         metadata: [JSONMember("format", .string("text")), JSONMember("n", .number(3))])
        let line = d.jsonLine()
        #expect(line.last == 0x0A)
        #expect(try Document.parse(Array(line.dropLast())) == d)
        #expect(String(decoding: line, as: UTF8.self).hasPrefix(#"{"id":"abc","text":"Hello\n世界 \"q\"","source":{"input":"a.tar","member":"x/y.txt""#))
    }

    @Test func stableIDsDependOnTheLocationOnly() {
        let a = Document.stableID(input: "a.tar", member: "x", position: nil)
        #expect(a == Document.stableID(input: "a.tar", member: "x", position: nil))
        #expect(a != Document.stableID(input: "a.tar", member: "y", position: nil))
        #expect(a.count == 32)
    }
}

@Suite struct SWARTests {
    /// The word tests agree with a byte-by-byte check on random words.
    @Test func agreesWithTheNaiveCheck() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let bytes = (0..<8).map { _ in [0x00, 0x1F, 0x20, 0x21, 0x22, 0x5C, 0x7F, 0x80, 0xA2, 0xFF].randomElement(using: &rng)! as UInt8 }
            let w = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            #expect(SWAR.hasByte(below: 0x20, in: w) == bytes.contains { $0 < 0x20 })
            #expect(SWAR.hasByte(0x22, in: w) == bytes.contains(0x22))
            #expect(SWAR.hasByte(0x5C, in: w) == bytes.contains(0x5C))
        }
    }
}
