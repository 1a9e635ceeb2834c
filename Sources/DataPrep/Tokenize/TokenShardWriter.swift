import ArchiveIO
import Foundation
import ShardFormat

/// One token shard as the manifest lists it.
public struct TokenShardRecord: Codable, Equatable, Sendable {
    public var path: String
    public var index: String
    public var tokens: Int
    /// Documents that start in this shard.
    public var documents: Int
    public var trainedTokens: Int?
    public var bytes: Int64
    public var sha256: String
}

/// Writes a stream of documents' tokens into llm.c shards `<split>_<task>_<n>.bin` of exactly
/// `shardTokens` tokens (the last one holds the rest), documents crossing shard boundaries as in
/// llm.c's fineweb.py, each with Kiln's index `<shard>.idx` beside it.
final class TokenShardWriter {
    let directory: String
    let split: String
    let task: Int
    let width: TokenShard.Width
    let shardTokens: Int
    let withMask: Bool

    private var file: AtomicFileWriter?
    /// The shard's SHA-256 as written, for a shard that fills up (its header was right from the start).
    private var hash = HashBox()
    private var count = 0
    private var offsets: [UInt64] = []
    private var mask: [Bool] = []
    private var scratch: [UInt8] = []
    private(set) var records: [TokenShardRecord] = []

    init(directory: String, split: String, task: Int, width: TokenShard.Width, shardTokens: Int, withMask: Bool) {
        self.directory = directory
        self.split = split
        self.task = task
        self.width = width
        self.shardTokens = shardTokens
        self.withMask = withMask
    }

    var shardName: String { String(format: "%@_%05d_%06d.bin", split, task, records.count) }

    /// Appends a document (its first token is the end-of-text that separates documents).
    func append(_ tokens: [UInt32], mask docMask: [Bool]? = nil) throws {
        var start = 0
        var first = true
        while start < tokens.count {
            if file == nil { try open() }
            if first { offsets.append(UInt64(count)); first = false }
            let take = min(tokens.count - start, shardTokens - count)
            try write(tokens[start..<(start + take)])
            if withMask { mask.append(contentsOf: docMask.map { Array($0[start..<(start + take)]) } ?? Array(repeating: true, count: take)) }
            count += take
            start += take
            if count == shardTokens { try close() }
        }
    }

    private func open() throws {
        let f = try AtomicFileWriter(path: directory + "/" + shardName)
        // The header says the shard is full, as every shard but the last of a split will be: the
        // bytes are then hashed as they are written. A shard closed short (the last) has its count
        // patched in and is hashed again from the file.
        var header = TokenShard.encode([], width: width)
        withUnsafeBytes(of: Int32(shardTokens).littleEndian) { header.replaceSubrange(8..<12, with: $0) }
        let h = HashBox()
        f.observer = { h.update($0) }
        hash = h
        try f.write(header)
        file = f
        count = 0
        offsets = []
        mask = []
    }

    private func write(_ tokens: ArraySlice<UInt32>) throws {
        scratch.removeAll(keepingCapacity: true)
        for t in tokens {
            if width == .uint16 {
                scratch.append(UInt8(t & 0xFF))
                scratch.append(UInt8(t >> 8))
            } else {
                withUnsafeBytes(of: t.littleEndian) { scratch.append(contentsOf: $0) }
            }
        }
        try file!.write(scratch)
    }

    private func close() throws {
        guard let f = file else { return }
        let digest: [UInt8]
        if count == shardTokens {
            try f.finish()
            digest = hash.digest()
        } else {
            try f.patch(withUnsafeBytes(of: Int32(count).littleEndian) { Array($0) }, at: 8)
            try f.finish()
            digest = try sha256Bytes(ofFile: f.temporaryPath)
        }
        let bytes = f.bytesWritten
        try f.commit()
        let indexName = shardName + ".idx"
        let index = TokenIndex(offsets: offsets + [UInt64(count)], mask: withMask ? mask : nil, shardSHA256: digest)
        try AtomicFileWriter.write(index.encode(), to: directory + "/" + indexName)
        records.append(TokenShardRecord(path: shardName, index: indexName, tokens: count, documents: offsets.count,
                                        trainedTokens: withMask ? mask.filter { $0 }.count : nil, bytes: bytes,
                                        sha256: digest.map { String(format: "%02x", $0) }.joined()))
        file = nil
    }

    /// Drops the shard being written (its temporary file is removed now, not when the process
    /// ends: a failed run may exit before this writer is freed).
    func discard() {
        file = nil
    }

    func finish() throws -> [TokenShardRecord] {
        try close()
        return records
    }
}
