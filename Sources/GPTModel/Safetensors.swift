// safetensors files (../shared/docs/FORMATS.md §4, huggingface/safetensors `tensor.rs`):
//
//   8 bytes   N, the header length, unsigned little-endian
//   N bytes   JSON: {"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets"}, ...}
//             padded with spaces; data_offsets are [begin, end) relative to the data buffer
//   the rest  the data buffer: tensors back to back, little-endian, row-major
//
// The reader checks what the Rust reference checks before trusting an offset: the header size
// limit, JSON shape, known dtypes, sizes equal to dtype × shape, tensors covering the buffer
// with no hole or overlap, and the file ending where the last tensor does.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The parsed header of a safetensors file.
public struct SafetensorsHeader: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        /// Byte range in the data buffer.
        public var bytes: Range<Int>
        /// Elements: the product of the shape (1 for a scalar).
        public var count: Int
    }

    /// In data-offset order.
    public var entries: [Entry]
    public var metadata: [String: String]?
    /// File offset of the data buffer: 8 + N.
    public var dataStart: Int

    public subscript(name: String) -> Entry? { entries.first { $0.name == name } }
}

public enum Safetensors {
    /// The Rust reader's limit on N.
    public static let maxHeaderBytes = 100_000_000

    /// Bits per element of every dtype the format defines, so that a file holding types Kiln
    /// does not read (a U8 mask buffer, say) still validates.
    static let dtypeBits: [String: Int] = [
        "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
        "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
    ]

    /// Whether the first bytes of a file look like safetensors: a plausible N, then "{".
    static func looksLikeSafetensors(_ head: [UInt8]) -> Bool {
        guard head.count >= 9 else { return false }
        let n = head.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        return n >= 2 && n <= UInt64(maxHeaderBytes) && head[8] == UInt8(ascii: "{")
    }

    /// Parses and validates a header. `dataStart` is the file offset of the data buffer (8 + N)
    /// and `dataBytes` its length (the rest of the file).
    public static func parseHeader(json: [UInt8], dataStart: Int, dataBytes: Int, path: String) throws -> SafetensorsHeader {
        func fail(_ message: String) -> CheckpointError {
            CheckpointError(path: path, reason: .badSafetensors, message: "safetensors: " + message)
        }
        guard json.first == UInt8(ascii: "{") else { throw fail("the header does not start with '{'") }
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: Data(json))
        } catch let error as CheckpointError {
            throw fail(error.message)
        } catch let DecodingError.dataCorrupted(context) {
            throw fail("the header is not valid JSON (\(context.debugDescription))")
        } catch {
            throw fail("the header is not a JSON object of tensors (\(error))")
        }
        var entries: [SafetensorsHeader.Entry] = []
        for (name, e) in raw.tensors {
            guard let bits = dtypeBits[e.dtype] else { throw fail("tensor \(name): unknown dtype \(e.dtype)") }
            guard e.shape.allSatisfy({ $0 >= 0 }) else { throw fail("tensor \(name): negative dimension in \(e.shape)") }
            guard e.dataOffsets.count == 2, e.dataOffsets[0] >= 0, e.dataOffsets[0] <= e.dataOffsets[1] else {
                throw fail("tensor \(name): data_offsets \(e.dataOffsets) is not [begin, end] with begin ≤ end")
            }
            var count = 1
            for d in e.shape {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= Int.max / 64 else { throw fail("tensor \(name): shape \(e.shape) is too large") }
                count = p
            }
            guard (count * bits) % 8 == 0 else { throw fail("tensor \(name): \(count) × \(bits) bits is not whole bytes") }
            let range = e.dataOffsets[0] ..< e.dataOffsets[1]
            guard range.count == count * bits / 8 else {
                throw fail("tensor \(name): \(e.dtype) \(e.shape) needs \(count * bits / 8) bytes, data_offsets give \(range.count)")
            }
            entries.append(.init(name: name, dtype: e.dtype, shape: e.shape, bytes: range, count: count))
        }
        // Key order in the JSON is arbitrary: lay the tensors out by offset, then they must tile
        // the buffer exactly.
        entries.sort { ($0.bytes.lowerBound, $0.bytes.upperBound) < ($1.bytes.lowerBound, $1.bytes.upperBound) }
        var end = 0
        for e in entries {
            guard e.bytes.lowerBound == end else {
                throw fail(e.bytes.lowerBound > end
                           ? "tensor \(e.name) starts at byte \(e.bytes.lowerBound), leaving bytes \(end)..<\(e.bytes.lowerBound) unused"
                           : "tensor \(e.name) at bytes \(e.bytes) overlaps the tensor before it (which ends at \(end))")
            }
            end = e.bytes.upperBound
        }
        guard end == dataBytes else {
            throw fail(end > dataBytes ? "the tensors need \(end) data bytes, the file has \(dataBytes) (truncated?)"
                                       : "the tensors end at data byte \(end) but the file has \(dataBytes - end) more bytes")
        }
        return SafetensorsHeader(entries: entries, metadata: raw.metadata, dataStart: dataStart)
    }

    /// A tensor to write: its values are produced when it is written, so a large model is not
    /// held twice in memory.
    public struct Tensor {
        public var name: String
        public var shape: [Int]
        public var values: () -> [Float]
        public init(name: String, shape: [Int], values: @escaping () -> [Float]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Writes F32 tensors as the Rust writer lays them out (by name, as all share one dtype;
    /// `__metadata__` first; the header padded with spaces to a multiple of 8 so the data starts
    /// aligned). The file appears under `path` only when complete.
    public static func write(_ tensors: [Tensor], metadata: [String: String] = ["format": "pt"], to path: String) throws {
        let sorted = tensors.sorted { $0.name < $1.name }
        var json = "{"
        if !metadata.isEmpty {
            json += quote("__metadata__") + ":{"
            json += metadata.sorted { $0.key < $1.key }.map { quote($0.key) + ":" + quote($0.value) }.joined(separator: ",")
            json += "},"
        }
        var offset = 0
        var fields: [String] = []
        for t in sorted {
            let bytes = t.shape.reduce(1, *) * 4
            fields.append(quote(t.name) + ":{\"dtype\":\"F32\",\"shape\":[" + t.shape.map(String.init).joined(separator: ",")
                          + "],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        json += fields.joined(separator: ",")
        if json.hasSuffix(",") { json.removeLast() }
        json += "}"
        var header = Array(json.utf8)
        header += [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
        let out = try AtomicFileWriter(path: path)
        try withUnsafeBytes(of: UInt64(header.count).littleEndian) { try out.write($0) }
        try out.write(header)
        for t in sorted {
            let v = t.values()
            precondition(v.count == t.shape.reduce(1, *), "\(t.name): \(v.count) values for shape \(t.shape)")
            try out.write(v)
        }
        try out.commit()
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

/// An open safetensors file: the validated header, and tensors read on demand as Float.
public final class SafetensorsReader {
    public let path: String
    public let header: SafetensorsHeader
    /// File size in bytes.
    public var fileBytes: Int { file.size }
    private let file: ReadableFile

    public init(path: String) throws {
        let file = try ReadableFile(path: path)
        func fail(_ reason: CheckpointError.Reason, _ message: String) -> CheckpointError {
            CheckpointError(path: path, reason: reason, message: "safetensors: " + message)
        }
        guard file.size >= 8 else { throw fail(.truncated, "\(file.size) bytes: shorter than the 8-byte header length") }
        let n = try file.bytes(8, at: 0).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(Safetensors.maxHeaderBytes) else {
            throw fail(.badSafetensors, "header length \(n) exceeds the \(Safetensors.maxHeaderBytes)-byte limit")
        }
        guard 8 + Int(n) <= file.size else {
            throw fail(.truncated, "header length \(n) runs past the end of the \(file.size)-byte file")
        }
        let header = try Safetensors.parseHeader(json: try file.bytes(Int(n), at: 8), dataStart: 8 + Int(n),
                                                 dataBytes: file.size - 8 - Int(n), path: path)
        self.path = path
        self.file = file
        self.header = header
    }

    /// The values of tensor `name` as Float, from F32, BF16 or F16.
    public func floats(_ name: String) throws -> [Float] {
        guard let e = header[name] else {
            throw CheckpointError(path: path, reason: .badTensors, message: "no tensor \(name)")
        }
        let at = header.dataStart + e.bytes.lowerBound
        switch e.dtype {
        case "F32": return try file.floats(e.count, at: at)
        case "BF16": return try file.halfwords(e.count, at: at).map(BFloat16.float)
        case "F16": return try file.halfwords(e.count, at: at).map(Float16Bits.float)
        default:
            throw CheckpointError(path: path, reason: .badTensors,
                                  message: "tensor \(name) is \(e.dtype); Kiln reads F32, BF16 and F16")
        }
    }
}

// MARK: - Header JSON

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private struct RawEntry: Decodable {
    var dtype: String
    var shape: [Int]
    var dataOffsets: [Int]
    enum CodingKeys: String, CodingKey { case dtype, shape, dataOffsets = "data_offsets" }
}

/// The header object: `__metadata__` (strings only) and one entry per other key.
private struct RawHeader: Decodable {
    var tensors: [(String, RawEntry)] = []
    var metadata: [String: String]?

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        for key in c.allKeys {
            if key.stringValue == "__metadata__" {
                guard let m = try? c.decode([String: String].self, forKey: key) else {
                    throw CheckpointError(path: "", reason: .badSafetensors, message: "__metadata__ is not an object of strings")
                }
                metadata = m
            } else {
                guard let e = try? c.decode(RawEntry.self, forKey: key) else {
                    throw CheckpointError(path: "", reason: .badSafetensors,
                                          message: "tensor \(key.stringValue) is not {dtype: string, shape: [int], data_offsets: [int, int]}")
                }
                tensors.append((key.stringValue, e))
            }
        }
    }
}
