import Foundation
import GPTModel
import ShardFormat

/// One batch for the model (GPTModel's `TokenBatch`): B rows of T positions; position i of a
/// row feeds `inputs[i]` and is scored on `targets[i]` with weight `weights[i]` (nil: every
/// position weighs 1); rows of packed examples carry `documentIDs`, so attention stays inside
/// each example.
public typealias TrainingBatch = TokenBatch

extension TokenBatch {
    /// Σ weights: the trained tokens of the batch, which normalise the loss.
    public var trainedTokens: Double {
        weights.map { $0.reduce(0.0) { $0 + Double($1) } } ?? Double(B * T)
    }
}

public struct DataError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A token shard opened for reading: its tokens memory-mapped (so a 100M-token shard costs no
/// heap), checked against llm.c's header rules, and its Kiln index when one lies beside it.
public final class MappedShard: @unchecked Sendable {
    public let path: String
    public let width: TokenShard.Width
    public let count: Int
    public let index: TokenIndex?
    private let base: UnsafeMutableRawPointer
    private let mappedBytes: Int

    public init(path: String, loadIndex: Bool = true) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DataError(message: "\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError(message: "\(path): cannot stat") }
        let size = Int(st.st_size)
        guard size >= TokenShard.headerBytes else {
            throw DataError(message: "\(path): \(size) bytes, shorter than the 1024-byte header of a token shard")
        }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw DataError(message: "\(path): cannot map the file")
        }
        base = p
        mappedBytes = size
        // The header alone decides the width and count; decode checks them against the size.
        let header = [UInt8](UnsafeRawBufferPointer(start: p, count: TokenShard.headerBytes))
        let magic = header.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: Int32.self)) }
        let version = header.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: Int32.self)) }
        let n = header.withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: Int32.self)) }
        switch (magic, version) {
        case (TokenShard.magic16, TokenShard.version16): width = .uint16
        case (TokenShard.magic32, TokenShard.version32): width = .uint32
        default:
            munmap(p, size)
            throw DataError(message: "\(path): not an llm.c token shard (magic \(magic), version \(version))")
        }
        let expected = TokenShard.headerBytes + Int(max(0, n)) * width.rawValue
        guard n >= 0, size == expected else {
            munmap(p, size)
            throw DataError(message: "\(path): the header says \(n) tokens (\(expected) bytes) but the file has \(size) bytes")
        }
        count = Int(n)
        if loadIndex, let data = FileManager.default.contents(atPath: path + ".idx") {
            do {
                let idx = try TokenIndex.decode([UInt8](data), path: path + ".idx")
                guard idx.tokens == UInt64(count) else {
                    throw DataError(message: "\(path).idx describes \(idx.tokens) tokens, the shard holds \(count)")
                }
                index = idx
            } catch {
                munmap(p, size)
                throw error
            }
        } else {
            index = nil
        }
    }

    deinit { munmap(base, mappedBytes) }

    public subscript(i: Int) -> Int32 {
        precondition(i >= 0 && i < count)
        let o = TokenShard.headerBytes + i * width.rawValue
        return width == .uint16
            ? Int32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
            : Int32(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
    }

    /// Copies tokens `range` into `out` (widened to Int32).
    public func copy(_ range: Range<Int>, into out: inout [Int32]) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count)
        out.reserveCapacity(out.count + range.count)
        for i in range { out.append(self[i]) }
    }

    /// The largest token id in the shard (to check it against the model's vocabulary).
    public func maxToken() -> Int32 {
        var m: Int32 = 0
        for i in 0..<count { m = max(m, self[i]) }
        return m
    }
}

/// The shard files of a pattern such as `dir/train_*.bin` or a folder (its `train_*.bin` for
/// `split`), sorted by name in byte order as POSIX `glob` sorts them (llm.c's loader order).
public func shardPaths(_ spec: String, split: String = "train") throws -> [String] {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: spec, isDirectory: &isDir), isDir.boolValue {
        let names = try FileManager.default.contentsOfDirectory(atPath: spec)
            .filter { $0.hasPrefix(split + "_") && $0.hasSuffix(".bin") }
        let dir = spec.hasSuffix("/") ? String(spec.dropLast()) : spec
        let paths = names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map { dir + "/" + $0 }
        guard !paths.isEmpty else { throw DataError(message: "\(spec): no \(split)_*.bin token shards") }
        return paths
    }
    var g = glob_t()
    defer { globfree(&g) }
    guard glob(spec, 0, nil, &g) == 0, g.gl_pathc > 0 else {
        throw DataError(message: "\(spec): no token shards match")
    }
    return (0..<Int(g.gl_pathc)).compactMap { g.gl_pathv[$0].map { String(cString: $0) } }
}
