import FineTuning
import Foundation
import ShardFormat
import Testing
import TestSupport

@Suite struct DataLoaderTests {
    /// Test vectors from FORMATS.md §2.3 (the same as numpy's legacy RandomState(42)).
    @Test func mersenneTwisterMatchesLlmcAndNumpy() {
        var g = MersenneTwister(seed: 42)
        #expect([g.next(), g.next(), g.next()] == [1_608_637_542, 3_421_126_067, 4_083_286_876])
        var t = MersenneTwister(seed: 5489)
        #expect(t.next() == 3_499_211_612)
        var p = MersenneTwister(seed: 42)
        #expect(p.permutation(5) == [4, 0, 1, 3, 2])
    }

    static func writeShard(_ tokens: [UInt32], to path: String, offsets: [Int]? = nil, mask: [Bool]? = nil) {
        let bytes = TokenShard.encode(tokens, width: .uint16)
        Fixtures.write(bytes, to: path)
        if let offsets {
            let idx = TokenIndex(offsets: offsets.map(UInt64.init) + [UInt64(tokens.count)], mask: mask,
                                 shardSHA256: TokenIndex.sha256(bytes))
            Fixtures.write(idx.encode(), to: path + ".idx")
        }
    }

    /// FORMATS.md §2.3's worked example: n = 10,001, B = 4, T = 64, two ranks: 19 chunks per
    /// shard; rank 1's chunk 3 starts at token 3·512 + 256 = 1792.
    @Test func llmcChunksOfEachRank() throws {
        let dir = Fixtures.tempDir("loader")
        let tokens = (0..<10_001).map { UInt32($0 % 60_000) }
        Self.writeShard(tokens, to: dir + "/train_000.bin")
        let shard = try MappedShard(path: dir + "/train_000.bin")
        var seq = try WindowLoader(shards: [shard], B: 4, T: 64, rank: 1, worldSize: 2, order: .sequential)
        #expect(seq.batchesPerEpoch == 19)
        var b = seq.next()
        for _ in 0..<3 { b = seq.next() }
        #expect(b.inputs.first == 1792 && b.inputs.count == 256)
        #expect(b.targets == Array(b.inputs.dropFirst()) + [1792 + 256])
        // llm.c's shuffled order: chunk perm from MT19937(42 + rank), first draw permutes the one shard.
        var llmc = try WindowLoader(shards: [shard], B: 4, T: 64, rank: 1, worldSize: 2, order: .llmc)
        var g = MersenneTwister(seed: 43)
        let perm = g.permutation(19)
        for k in 0..<19 { #expect(llmc.next().inputs.first == Int32(perm[k] * 512 + 256)) }
        // The next epoch reshuffles with the same generator.
        let again = g.permutation(19)
        #expect(llmc.next().inputs.first == Int32(again[0] * 512 + 256))
        #expect(llmc.position == DataPosition(consumed: 20, epoch: 1))
    }

    @Test(arguments: [DataOrder.llmc, .shuffle, .sequential])
    func seekReplaysTheStream(order: DataOrder) throws {
        let dir = Fixtures.tempDir("seek")
        Self.writeShard((0..<3000).map { UInt32($0) }, to: dir + "/a.bin")
        Self.writeShard((0..<2000).map { UInt32(10_000 + $0) }, to: dir + "/b.bin")
        let shards = try [MappedShard(path: dir + "/a.bin"), MappedShard(path: dir + "/b.bin")]
        var a = try WindowLoader(shards: shards, B: 2, T: 50, order: order, seed: 7)
        var seen: [TrainingBatch] = []
        for _ in 0..<(a.batchesPerEpoch * 2 + 3) { seen.append(a.next()) }
        #expect(a.position.epoch == 2)
        for cut in [0, 5, a.batchesPerEpoch, a.batchesPerEpoch * 2 + 1] {
            var b = try WindowLoader(shards: shards, B: 2, T: 50, order: order, seed: 7)
            b.seek(to: seen.indices.contains(cut) ? DataPosition(consumed: cut, epoch: 0) : a.position)
            #expect(b.next() == seen[cut], "\(order) after \(cut)")
        }
    }

    /// Two ranks of batch B read exactly the rows of one rank of batch 2B.
    @Test func shuffledRowsSplitBetweenRanks() throws {
        let dir = Fixtures.tempDir("ranks")
        Self.writeShard((0..<5000).map { UInt32($0) }, to: dir + "/a.bin")
        let shards = try [MappedShard(path: dir + "/a.bin")]
        var one = try WindowLoader(shards: shards, B: 4, T: 32, order: .shuffle, seed: 3)
        var r0 = try WindowLoader(shards: shards, B: 2, T: 32, rank: 0, worldSize: 2, order: .shuffle, seed: 3)
        var r1 = try WindowLoader(shards: shards, B: 2, T: 32, rank: 1, worldSize: 2, order: .shuffle, seed: 3)
        for _ in 0..<50 {
            let b = one.next(), x = r0.next(), y = r1.next()
            #expect(b.inputs == x.inputs + y.inputs && b.targets == x.targets + y.targets)
        }
    }

    /// SFT shards: examples of varied lengths, the mask on the answer half of each.
    static func sftShards(_ dir: String, examples: Int = 40) throws -> [MappedShard] {
        var tokens: [UInt32] = [], offsets: [Int] = [], mask: [Bool] = []
        for k in 0..<examples {
            let length = 5 + (k * 7) % 23
            offsets.append(tokens.count)
            for i in 0..<length {
                tokens.append(i == 0 ? 999 : UInt32(k * 100 + i))
                mask.append(i >= length / 2)
            }
        }
        // Two shards, the cut inside an example (examples cross shard boundaries).
        let cut = offsets[examples / 2] + 2
        Self.writeShard(Array(tokens[..<cut]), to: dir + "/train_0.bin", offsets: offsets.filter { $0 < cut }, mask: Array(mask[..<cut]))
        Self.writeShard(Array(tokens[cut...]), to: dir + "/train_1.bin", offsets: offsets.filter { $0 >= cut }.map { $0 - cut },
                        mask: Array(mask[cut...]))
        return try [MappedShard(path: dir + "/train_0.bin"), MappedShard(path: dir + "/train_1.bin")]
    }

    @Test(arguments: [Packing.packed, .padded])
    func examplesFillRowsWithMasksAndIDs(packing: Packing) throws {
        let dir = Fixtures.tempDir("sftload")
        let shards = try Self.sftShards(dir)
        var loader = try ExampleLoader(shards: shards, B: 3, T: 24, packing: packing, seed: 1, padToken: 999)
        var positions: [Int: Int] = [:]  // example -> positions seen in the batches wholly of epoch 0
        while true {
            let b = loader.next()
            #expect(b.inputs.count == 72 && b.weights!.count == 72)
            if loader.position.epoch > 0 { break }
            for p in 0..<72 {
                // Padding: weight 0, id -1 when packed.
                if b.targets[p] == 999 {
                    #expect(b.weights![p] == 0)
                    if packing == .packed { #expect(b.documentIDs![p] == -1) }
                    continue
                }
                let example = Int(b.targets[p]) / 100, i = Int(b.targets[p]) % 100
                positions[example, default: 0] += 1
                // Target token i of an example of length L is trained when i >= L/2.
                let length = 5 + (example * 7) % 23
                #expect((b.weights![p] == 1) == (i >= length / 2), "example \(example) token \(i)")
                // The input is the token before the target: the example's own (begin token first).
                #expect(b.inputs[p] == (i == 1 ? 999 : b.targets[p] - 1))
                if packing == .packed, p > 0, b.inputs[p] != 999 { #expect(b.documentIDs![p] == b.documentIDs![p - 1]) }
            }
            if packing == .padded { #expect(b.documentIDs == nil) }
        }
        // Each example seen came whole (L - 1 positions; examples longer than T + 1 are cut to
        // it), and only the last batch's are missing.
        for (k, n) in positions { #expect(n == min(5 + (k * 7) % 23, 25) - 1, "example \(k)") }
        #expect(loader.cutExamples == (0..<40).filter { 5 + ($0 * 7) % 23 > 25 }.count)
        #expect(positions.count >= 40 - 3 * (packing == .packed ? 6 : 1))
    }

    @Test func examplesSplitBetweenRanksAndSeek() throws {
        let dir = Fixtures.tempDir("sftranks")
        let shards = try Self.sftShards(dir)
        var one = try ExampleLoader(shards: shards, B: 4, T: 30, packing: .packed, seed: 9, padToken: 999)
        var r0 = try ExampleLoader(shards: shards, B: 2, T: 30, rank: 0, worldSize: 2, packing: .packed, seed: 9, padToken: 999)
        var r1 = try ExampleLoader(shards: shards, B: 2, T: 30, rank: 1, worldSize: 2, packing: .packed, seed: 9, padToken: 999)
        var seen: [TrainingBatch] = []
        for _ in 0..<25 {
            let b = one.next(), x = r0.next(), y = r1.next()
            seen.append(b)
            #expect(b.inputs == x.inputs + y.inputs && b.weights! == x.weights! + y.weights! && b.documentIDs! == x.documentIDs! + y.documentIDs!)
        }
        var c = try ExampleLoader(shards: shards, B: 4, T: 30, packing: .packed, seed: 9, padToken: 999)
        c.seek(to: DataPosition(consumed: 17, epoch: 0))
        #expect(c.next() == seen[17])
    }

    @Test func badShardsAreRefusedWithTheirName() throws {
        let dir = Fixtures.tempDir("badshard")
        Fixtures.write([UInt8](repeating: 0, count: 100), to: dir + "/short.bin")
        #expect { try MappedShard(path: dir + "/short.bin") } throws: { "\($0)".contains("short.bin") && "\($0)".contains("1024") }
        var bytes = TokenShard.encode([1, 2, 3], width: .uint16)
        bytes.removeLast()
        Fixtures.write(bytes, to: dir + "/cut.bin")
        #expect { try MappedShard(path: dir + "/cut.bin") } throws: { "\($0)".contains("the header says 3 tokens") }
        Self.writeShard([1, 2, 3], to: dir + "/plain.bin")
        #expect { try ExampleLoader(shards: [MappedShard(path: dir + "/plain.bin")], B: 1, T: 4, packing: .packed, seed: 0, padToken: 0) }
            throws: { "\($0)".contains("no loss mask") }
    }
}
