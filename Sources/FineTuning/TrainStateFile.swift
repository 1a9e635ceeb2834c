import Foundation
import GPTModel

/// The state file beside each checkpoint's model (`state_<step>.bin`). Little-endian:
///
///     0   8  magic "KILNSTAT"
///     8   4  version (1)
///     12  4  header length H
///     16  H  JSON header: step, optimizer step, data position, parameter count, the resolved
///            options and fingerprints (model, data, tokenizer)
///     ..  4·P  AdamW first moments (P = parameter count), then 4·P second moments
///
/// The file size is checked against the header before anything is trusted.
public enum TrainStateFile {
    public static let magic = Array("KILNSTAT".utf8)
    public static let version: UInt32 = 1

    public struct Header: Codable, Equatable, Sendable {
        public var step: Int
        public var optimizerStep: Int
        public var data: DataPosition
        public var parameterCount: Int
        public var options: TrainOptions
        /// Fingerprints and other facts the run checks on resume (model shape, data, tokenizer).
        public var facts: [String: String]
    }

    public static func write(_ state: TrainState, options: TrainOptions, facts: [String: String], to path: String) throws {
        let header = Header(step: state.step, optimizerStep: state.optimizerStep, data: state.data,
                            parameterCount: state.m.count, options: options, facts: facts)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        enc.keyEncodingStrategy = .convertToSnakeCase
        let json = try enc.encode(header)
        var out = Data(magic)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(version)
        put(UInt32(json.count))
        out.append(json)
        for a in [state.m, state.v] { a.withUnsafeBytes { out.append(contentsOf: $0) } }
        try writeAtomically(out, to: path)
    }

    public static func read(_ path: String) throws -> (state: TrainState, header: Header) {
        func fail(_ m: String) -> DataError { DataError(message: "\(path): \(m)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot read the state file") }
        let b = [UInt8](data)
        guard b.count >= 16, Array(b[0..<8]) == magic else { throw fail("not a Kiln training state file") }
        let u32 = { (o: Int) in b.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt32.self)) } }
        guard u32(8) == version else { throw fail("unsupported state version \(u32(8))") }
        let h = Int(u32(12))
        guard 16 + h <= b.count else { throw fail("truncated header") }
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        let header: Header
        do { header = try dec.decode(Header.self, from: Data(b[16..<(16 + h)])) } catch { throw fail("bad header: \(error)") }
        let p = header.parameterCount
        guard p >= 0, b.count == 16 + h + 8 * p else {
            throw fail("\(b.count) bytes, the header implies \(16 + h + 8 * p) for \(p) parameters")
        }
        var m = [Float](repeating: 0, count: p), v = m
        b.withUnsafeBytes { raw in
            m.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(16 + h)..<(16 + h + 4 * p)])) }
            v.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[(16 + h + 4 * p)...])) }
        }
        return (TrainState(step: header.step, optimizerStep: header.optimizerStep, data: header.data, m: m, v: v), header)
    }
}

/// Writes `data` whole or not at all (GPTModel's atomic writer: a temporary name in the same
/// folder, renamed into place).
public func writeAtomically(_ data: Data, to path: String) throws {
    try writeFileAtomically([UInt8](data), to: path)
}
