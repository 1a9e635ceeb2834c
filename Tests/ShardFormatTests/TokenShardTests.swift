import ShardFormat
import Testing

@Suite struct TokenShardTests {
    /// FORMATS.md §2.1's worked example: [50256, 15496, 995] ("<|endoftext|>Hello world").
    @Test func llmcWorkedExample() throws {
        let b = TokenShard.encode([50256, 15496, 995], width: .uint16)
        #expect(b.count == 1030)
        #expect(Array(b[0..<12]) == [0x88, 0xD8, 0x34, 0x01, 0x01, 0, 0, 0, 0x03, 0, 0, 0])
        #expect(b[12..<1024].allSatisfy { $0 == 0 })
        #expect(Array(b[1024...]) == [0x50, 0xC4, 0x88, 0x3C, 0xE3, 0x03])
        let (tokens, width) = try TokenShard.decode(b, path: "x")
        #expect(tokens == [50256, 15496, 995] && width == .uint16)
    }

    @Test func uint32ShardsRoundTrip() throws {
        let tokens: [UInt32] = [0, 1, 70_000, 128_000, UInt32.max]
        let (back, width) = try TokenShard.decode(TokenShard.encode(tokens, width: .uint32), path: "x")
        #expect(back == tokens && width == .uint32)
        #expect(TokenShard.Width.forVocabulary(50257) == .uint16)
        #expect(TokenShard.Width.forVocabulary(65537) == .uint32)
    }

    @Test(arguments: [0, 100, 1023, 1031, 1029])
    func badSizesAreRefused(_ size: Int) {
        var b = TokenShard.encode([1, 2, 3], width: .uint16)
        if size < b.count { b = Array(b[0..<size]) } else { b += [UInt8](repeating: 0, count: size - b.count) }
        #expect(throws: TokenShard.FormatError.self) { _ = try TokenShard.decode(b, path: "x") }
    }

    @Test func badMagicAndVersion() {
        var b = TokenShard.encode([1], width: .uint16)
        b[4] = 2
        #expect(throws: TokenShard.FormatError.self) { _ = try TokenShard.decode(b, path: "x") }
        b[0] = 0
        #expect(throws: TokenShard.FormatError.self) { _ = try TokenShard.decode(b, path: "x") }
    }

    @Test func indexRoundTripWithAndWithoutMask() throws {
        let sha = TokenIndex.sha256([1, 2, 3])
        let plain = TokenIndex(offsets: [0, 3, 10], mask: nil, shardSHA256: sha)
        #expect(try TokenIndex.decode(plain.encode(), path: "x") == plain)
        let mask = (0..<10).map { $0 % 3 == 0 }
        let masked = TokenIndex(offsets: [0, 3, 10], mask: mask, shardSHA256: sha)
        #expect(try TokenIndex.decode(masked.encode(), path: "x") == masked)
        var bad = masked.encode()
        bad.removeLast()
        #expect(throws: TokenShard.FormatError.self) { _ = try TokenIndex.decode(bad, path: "x") }
        let decreasing = TokenIndex(offsets: [0, 5, 3], mask: nil, shardSHA256: sha)
        #expect(throws: TokenShard.FormatError.self) { _ = try TokenIndex.decode(decreasing.encode(), path: "x") }
    }
}
