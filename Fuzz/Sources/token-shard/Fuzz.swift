// llm.c token shards and Kiln's index beside them, as prep writes and tune reads them. The input
// is a shard and its index: a 4-byte little-endian length of the shard, the shard, then the
// index. ShardFormat's decoders must give back what their encoders make of the result, and tune's
// reader (MappedShard, which maps the files) must agree with them: it accepts exactly the shards
// TokenShard.decode accepts, sees the same tokens, and refuses an index that does not decode or
// does not describe the shard.
import FineTuning
import FuzzSupport
import ShardFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    guard bytes.count >= 4 else { return 0 }
    let claimed = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
    let shardBytes = Array(bytes[4 ..< 4 + min(claimed, bytes.count - 4)])
    let indexBytes = Array(bytes[(4 + shardBytes.count)...])

    var shard: (tokens: [UInt32], width: TokenShard.Width)?
    do {
        let s = try TokenShard.decode(shardBytes, path: "shard.bin")
        // Header slots 3...255 are unused: llm.c writes zeros there and reads nothing.
        var expected = shardBytes
        for i in 12..<TokenShard.headerBytes { expected[i] = 0 }
        precondition(TokenShard.encode(s.tokens, width: s.width) == expected, "a decoded shard encodes to other bytes")
        shard = s
    } catch is TokenShard.FormatError {
    } catch {
        fatalError("TokenShard.decode threw \(error)")
    }
    var index: TokenIndex?
    do {
        let i = try TokenIndex.decode(indexBytes, path: "shard.bin.idx")
        precondition((try? TokenIndex.decode(i.encode(), path: "again")) == i, "an index encoded and decoded again changed")
        index = i
    } catch is TokenShard.FormatError {
    } catch {
        fatalError("TokenIndex.decode threw \(error)")
    }

    let path = scratchFile("shard.bin", shardBytes)
    if indexBytes.isEmpty { removeScratchFile("shard.bin.idx") } else { scratchFile("shard.bin.idx", indexBytes) }
    defer { removeScratchFile("shard.bin"); removeScratchFile("shard.bin.idx") }
    do {
        let mapped = try MappedShard(path: path)
        guard let shard else { fatalError("MappedShard accepts a shard TokenShard.decode refuses") }
        precondition(mapped.count == shard.tokens.count && mapped.width == shard.width, "MappedShard reads another count or width")
        for (k, t) in shard.tokens.enumerated() {
            precondition(mapped[k] == Int32(bitPattern: t), "MappedShard reads token \(k) differently")
        }
        if !indexBytes.isEmpty {
            guard let index else { fatalError("MappedShard accepts an index TokenIndex.decode refuses") }
            precondition(mapped.index == index && index.tokens == UInt64(shard.tokens.count), "MappedShard's index differs")
        }
    } catch is DataError {
        precondition(shard == nil, "MappedShard refuses a shard TokenShard.decode accepts")
    } catch is TokenShard.FormatError {
        precondition(index == nil, "MappedShard refuses, as not decoding, an index TokenIndex.decode accepts")
    } catch {
        fatalError("MappedShard threw \(error)")
    }
    return 0
}
