// Checkpoints: llm.c model files, random initialisation, CheckpointInfo. Safetensors and the
// Hugging Face GPT-2 import/export are in CheckpointTests+Safetensors.swift.

import Foundation
import Testing
import TestSupport
@testable import GPTModel

/// Helpers for the checkpoint suites (here and in CheckpointTests+Safetensors.swift). A protocol
/// rather than free functions, so that they cannot collide with other test files' helpers.
protocol CheckpointTesting {}

extension CheckpointTesting {
    /// A model small enough to write in milliseconds, with a padded vocabulary (V 200, Vp 256) so
    /// that the pad rows are exercised, and two layers so that layer order is.
    var tiny: GPTConfig { GPTConfig(maxSeqLen: 8, vocabSize: 200, numLayers: 2, numHeads: 2, channels: 8) }

    /// The error a throwing call gave, for checking its reason and message.
    func checkpointError(_ body: () throws -> Void) -> CheckpointError? {
        do {
            try body()
            return nil
        } catch let e as CheckpointError {
            return e
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    func bitsEqual(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
    }
}

@Suite struct LlmcCheckpointTests: CheckpointTesting {
    @Test func float32RoundTripAndLayout() throws {
        let dir = Fixtures.tempDir("ckpt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ck = Checkpoint.random(config: tiny, seed: 7)
        let path = dir + "/model.bin"
        try ck.write(llmc: path, type: .float32)
        let bytes = Fixtures.read(path)
        let n = ParameterTable(tiny).total
        #expect(bytes.count == 1024 + 4 * n)
        // Header: magic, version, maxT, V, L, NH, C, Vp, then zeros.
        #expect(Array(bytes[0..<32]) == littleEndianBytes([20240326, 3, 8, 200, 2, 2, 8, 256] as [Int32]))
        #expect(bytes[32..<1024].allSatisfy { $0 == 0 })
        // The first parameter (wte[0][0]) follows the header directly.
        #expect(Array(bytes[1024..<1028]) == littleEndianBytes([ck.parameters[0].bitPattern]))
        let back = try Checkpoint.read(path: path)
        #expect(back.config == tiny)
        #expect(back.sourceType == .float32)
        #expect(bitsEqual(back.parameters, ck.parameters))
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.bin"])
    }

    @Test func bfloat16RoundTrip() throws {
        let dir = Fixtures.tempDir("ckpt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var ck = Checkpoint.random(config: tiny, seed: 8)
        // Values whose rounding is known (see bfloat16Rounding): a tie to even downwards, a tie
        // to even upwards, just above a tie, and an exact value.
        let special: [(Float, UInt16)] = [(Float(bitPattern: 0x3F80_8000), 0x3F80), (Float(bitPattern: 0x3F81_8000), 0x3F82),
                                          (Float(bitPattern: 0x3F80_8001), 0x3F81), (-3, 0xC040)]
        let at = ParameterTable(tiny).offset(.qkvw, layer: 1)
        for (i, s) in special.enumerated() { ck.parameters[at + i] = s.0 }
        let path = dir + "/model_bf16.bin"
        try ck.write(llmc: path, type: .bfloat16)
        let bytes = Fixtures.read(path)
        #expect(bytes.count == 1024 + 2 * ParameterTable(tiny).total)
        #expect(Array(bytes[4..<8]) == littleEndianBytes([Int32(5)]))
        #expect(Array(bytes[(1024 + 2 * at) ..< (1024 + 2 * at + 8)]) == littleEndianBytes(special.map(\.1)))
        let back = try Checkpoint.read(path: path)
        #expect(back.sourceType == .bfloat16)
        #expect(bitsEqual(back.parameters, ck.parameters.map { BFloat16.float(BFloat16.bits($0)) }))
        #expect(back.parameters[at ..< at + 4].elementsEqual([1, 1.015625, 1.0078125, -3]))
        // bf16 keeps 8 significant bits: rounding moves a value by at most 2^-8 of itself.
        for (a, b) in zip(ck.parameters, back.parameters) { #expect(abs(a - b) <= abs(a) * 0x1p-8) }
    }

    /// Hand-computed float32 → bfloat16 bits, round to nearest even as PyTorch.
    @Test(arguments: [
        (UInt32(0x3F80_0000), UInt16(0x3F80)),   // 1.0 exact
        (0x3F80_8000, 0x3F80),                   // 1 + 2^-8: half way, tie to even (down)
        (0x3F81_8000, 0x3F82),                   // 1 + 3·2^-8: half way, tie to even (up)
        (0x3F80_8001, 0x3F81),                   // just above half way: up
        (0x3F80_7FFF, 0x3F80),                   // just below half way: down
        (0xBF80_8000, 0xBF80),                   // -(1 + 2^-8): ties by magnitude
        (0xC040_0000, 0xC040),                   // -3.0
        (0x3F7F_FFFF, 0x3F80),                   // just below 1 rounds up across the exponent
        (0x7F7F_FFFF, 0x7F80),                   // the largest float overflows to +inf
        (0x7F80_0000, 0x7F80),                   // +inf
        (0xFF80_0000, 0xFF80),                   // -inf
        (0x7FC0_0000, 0x7FC0),                   // quiet NaN
        (0x7F80_0001, 0x7FC0),                   // NaN with only a low payload bit: still NaN
        (0xFFFF_FFFF, 0x7FC0),                   // negative NaN: PyTorch's canonical 0x7FC0
        (0x0000_8000, 0x0000),                   // subnormal tie to even: zero
        (0x0001_8000, 0x0002),                   // subnormal tie to even: up
        (0x8000_0000, 0x8000),                   // -0 keeps its sign
    ])
    func bfloat16Rounding(_ input: UInt32, _ expected: UInt16) {
        #expect(BFloat16.bits(Float(bitPattern: input)) == expected,
                "0x\(String(input, radix: 16)) → 0x\(String(BFloat16.bits(Float(bitPattern: input)), radix: 16))")
    }

    @Test func bfloat16ReadsAsUpperHalf() {
        #expect(BFloat16.float(0x3F80) == 1)
        #expect(BFloat16.float(0x3F00) == 0.5)
        #expect(BFloat16.float(0xC040) == -3)
        #expect(BFloat16.float(0x7FC0).isNaN)
    }

    /// A valid float32 file of the tiny model, to be damaged.
    func validFile(_ dir: String) throws -> (path: String, bytes: [UInt8]) {
        let path = dir + "/good.bin"
        try Checkpoint.random(config: tiny, seed: 1).write(llmc: path)
        return (path, Fixtures.read(path))
    }

    func damaged(_ name: String, in dir: String, _ change: (inout [UInt8]) -> Void) throws -> String {
        var bytes = try validFile(dir).bytes
        change(&bytes)
        let path = dir + "/" + name
        Fixtures.write(bytes, to: path)
        return path
    }

    func setSlot(_ bytes: inout [UInt8], _ slot: Int, _ value: Int32) {
        bytes.replaceSubrange(4 * slot ..< 4 * slot + 4, with: littleEndianBytes([value]))
    }

    @Test func badFilesNameTheirFault() throws {
        let n = ParameterTable(tiny).total
        let cases: [(String, CheckpointError.Reason, String, (inout [UInt8]) -> Void)] = [
            ("short-header.bin", .truncated, "shorter than the 1024-byte", { $0.removeLast($0.count - 500) }),
            ("truncated.bin", .truncated, "needs 1024 + \(n) × 4 = \(1024 + 4 * n) bytes, the file has \(1023 + 4 * n)",
             { $0.removeLast() }),
            ("longer.bin", .sizeMismatch, "the file has \(1025 + 4 * n)", { $0.append(0) }),
            ("magic.bin", .badMagic, "magic 20240325", { b in setSlot(&b, 0, 20240325) }),
            ("debug-state.bin", .badMagic, "debug state", { b in setSlot(&b, 0, 20240327) }),
            ("v4.bin", .obsoleteVersion, "version 4 is an obsolete", { b in setSlot(&b, 1, 4) }),
            ("v1.bin", .obsoleteVersion, "version 1 is an obsolete", { b in setSlot(&b, 1, 1) }),
            ("v6.bin", .unsupportedVersion, "unknown version 6", { b in setSlot(&b, 1, 6) }),
            ("heads.bin", .badConfig, "not a multiple of the head count 3", { b in setSlot(&b, 5, 3) }),
            ("vp.bin", .badConfig, "padded vocabulary 100", { b in setSlot(&b, 7, 100) }),
            ("huge.bin", .badConfig, "implausibly large", { b in setSlot(&b, 6, Int32.max - 1); setSlot(&b, 5, 1) }),
            // bf16 version on a float32-sized file: the size check catches the mismatch.
            ("v5-size.bin", .sizeMismatch, "1024 + \(n) × 2", { b in setSlot(&b, 1, 5) }),
            ("nan.bin", .nonFinite, "qkvw layer 1 element 5 of 192 is nan", { b in
                let at = 1024 + 4 * (ParameterTable(tiny).offset(.qkvw, layer: 1) + 5)
                b.replaceSubrange(at ..< at + 4, with: littleEndianBytes([Float.nan.bitPattern]))
            }),
            ("inf.bin", .nonFinite, "lnfb element 7 of 8 is inf", { b in
                let at = 1024 + 4 * (ParameterTable(tiny).offset(.lnfb) + 7)
                b.replaceSubrange(at ..< at + 4, with: littleEndianBytes([Float.infinity.bitPattern]))
            }),
        ]
        let dir = Fixtures.tempDir("ckpt-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, reason, text, change) in cases {
            let path = try damaged(name, in: dir, change)
            let e = checkpointError { _ = try Checkpoint.read(llmc: path) }
            #expect(e?.reason == reason, "\(name): \(e?.description ?? "no error")")
            #expect(e?.description.hasPrefix(path + ": ") == true, "\(name): the message names the file")
            #expect(e?.message.contains(text) == true, "\(name): \(e?.message ?? "no error")")
            // Reading by content gives the same answer, except that a file without the llm.c
            // magic is not known to be an llm.c file at all.
            let byContent = checkpointError { _ = try Checkpoint.read(path: path) }
            if name == "magic.bin" {
                #expect(byContent?.reason == .unknownFormat && byContent?.message.contains("20240325") == true)
            } else {
                #expect(byContent == e, "\(name): \(byContent?.description ?? "no error")")
            }
        }
    }

    @Test func unknownAndMissingFiles() throws {
        let dir = Fixtures.tempDir("ckpt-bad")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        Fixtures.write("hello, world\n", to: dir + "/text.bin")
        #expect(checkpointError { _ = try Checkpoint.read(path: dir + "/text.bin") }?.reason == .unknownFormat)
        Fixtures.write([], to: dir + "/empty.bin")
        #expect(checkpointError { _ = try Checkpoint.read(path: dir + "/empty.bin") }?.reason == .unknownFormat)
        #expect(checkpointError { _ = try Checkpoint.read(path: dir + "/absent.bin") }?.reason == .io)
        #expect(checkpointError { _ = try Checkpoint.read(path: dir) }?.message.contains("no model.safetensors") == true)
    }

    @Test func refusesToWriteNonFiniteValues() throws {
        let dir = Fixtures.tempDir("ckpt")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var ck = Checkpoint.random(config: tiny, seed: 2)
        ck.parameters[ParameterTable(tiny).offset(.wpe) + 3] = .nan
        let e = checkpointError { try ck.write(llmc: dir + "/nan.bin") }
        #expect(e?.reason == .nonFinite && e?.message.contains("wpe element 3") == true, "\(e?.description ?? "")")
        // A finite value too large for bfloat16 becomes infinity: refused for version 5 only.
        ck.parameters[ParameterTable(tiny).offset(.wpe) + 3] = 3.4e38
        try ck.write(llmc: dir + "/big.bin", type: .float32)
        #expect(checkpointError { try ck.write(llmc: dir + "/big16.bin", type: .bfloat16) }?.reason == .nonFinite)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["big.bin"])
    }

    @Test func infoReportsChecksAndStatistics() throws {
        let dir = Fixtures.tempDir("ckpt-info")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var ck = Checkpoint.random(config: tiny, seed: 3)
        try ck.write(llmc: dir + "/good.bin")
        let info = try CheckpointInfo.inspect(path: dir + "/good.bin")
        #expect(info.ok)
        #expect(info.config == tiny && info.dtype == .float32)
        #expect(info.parameterCount == ParameterTable(tiny).total)
        #expect(info.unpaddedParameterCount == ParameterTable(tiny).total - 56 * 8)
        #expect(info.fileBytes == 1024 + 4 * info.parameterCount)
        let ln = try #require(info.tensors.first { $0.name == "ln1w" })
        #expect(ln.min == 1 && ln.max == 1 && ln.meanAbs == 1 && ln.shape == [2, 8])
        // A diverged checkpoint: `read` refuses it, `inspect` describes it.
        let path = dir + "/nan.bin"
        try ck.write(llmc: path)
        var bytes = Fixtures.read(path)
        let at = 1024 + 4 * ParameterTable(tiny).offset(.fcw)
        bytes.replaceSubrange(at ..< at + 4, with: littleEndianBytes([Float.nan.bitPattern]))
        Fixtures.write(bytes, to: path)
        let bad = try CheckpointInfo.inspect(path: path)
        #expect(!bad.ok)
        #expect(bad.checks.first { $0.name == "finite" }?.detail.contains("fcw layer 0 element 0") == true)
        #expect(bad.tensors.first { $0.name == "fcw" }?.nonFinite == 1)
        // `tune info --json` must be able to print it: no NaN reaches the statistics.
        let json = try JSONEncoder().encode(bad)
        #expect(try JSONDecoder().decode(CheckpointInfo.self, from: json).tensors == bad.tensors)
        // Nonzero pad rows are flagged.
        ck.parameters[200 * 8] = 0.5
        try ck.write(llmc: path)
        #expect(try CheckpointInfo.inspect(path: path).checks.first { $0.name == "padRows" }?.passed == false)
    }
}

@Suite struct InitializationTests: CheckpointTesting {
    @Test func generatorsMatchTheReferenceCode() {
        // SplitMix64 seeded 0 and xoshiro256** seeded 42 through SplitMix64, from Vigna's C code
        // (re-run in Python).
        var sm = SplitMix64(state: 0)
        #expect([sm.next(), sm.next(), sm.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var x = Xoshiro256StarStar(seed: 42)
        #expect([x.next(), x.next(), x.next(), x.next()]
                == [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1, 0xECB8_AD47_03B3_60A1])
    }

    @Test func portableLogIsAccurate() {
        for x in [1e-300, 1e-10, 0.001, 0.1, 0.3, 0.5, 0.70710678, 0.7071068, 0.9, 0.999999, 1.0] {
            let want = Foundation.log(x)
            #expect(abs(portableLog(x) - want) <= 4 * max(abs(want), 1e-300).ulp + 1e-300, "log(\(x))")
        }
        #expect(portableLog(1) == 0)
    }

    @Test func reproducibleBitForBit() {
        let a = Checkpoint.random(config: tiny, seed: 1234)
        let b = Checkpoint.random(config: tiny, seed: 1234)
        let c = Checkpoint.random(config: tiny, seed: 1235)
        #expect(bitsEqual(a.parameters, b.parameters))
        #expect(!bitsEqual(a.parameters, c.parameters))
        // Golden values from an independent Python re-implementation of the documented stream
        // (SplitMix64 → xoshiro256**, polar normals with the series logarithm): they pin the
        // values, so a change to the generator cannot pass unnoticed.
        #expect(a.parameters[0..<3].map(\.bitPattern) == [0xBC8F_B75C, 0x3CE0_CD42, 0x3C4A_233F])
        let q = ParameterTable(tiny).offset(.qkvw, layer: 1)
        #expect(a.parameters[q..<(q + 2)].map(\.bitPattern) == [0xBCE1_BB3F, 0x3BA2_1EE1])
        // And all 3,872 values (FNV-1a of their little-endian bytes), which also pins the layout:
        // which tensors are drawn, their σ, the ones, the zeros and the pad rows.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for x in a.parameters {
            for byte in littleEndianBytes([x.bitPattern]) { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        }
        #expect(hash == 0x521A_ECE8_5B51_8BAB)
    }

    @Test func statisticsFollowGPT2() {
        let c = GPTConfig(maxSeqLen: 64, vocabSize: 500, numLayers: 4, numHeads: 4, channels: 64)
        let ck = Checkpoint.random(config: c, seed: 42)
        let t = ParameterTable(c)
        func std(_ v: ArraySlice<Float>) -> Double {
            let n = Double(v.count), mean = v.reduce(0.0) { $0 + Double($1) } / n
            return (v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n).squareRoot()
        }
        let residual = 0.02 / (2.0 * 4).squareRoot()
        for (tensor, want) in [(ParameterTensor.wpe, 0.02), (.qkvw, 0.02), (.fcw, 0.02), (.attprojw, residual), (.fcprojw, residual)] {
            let v = ck.values(tensor)
            // n ≥ 4096 draws: the sample std is within 3% of σ with overwhelming probability.
            #expect(abs(std(v) / want - 1) < 0.03, "\(tensor.name): std \(std(v)), want \(want)")
            #expect(abs(v.reduce(0.0) { $0 + Double($1) } / Double(v.count)) < 0.1 * want, "\(tensor.name) mean")
        }
        let wte = ck.values(.wte)
        #expect(abs(std(wte.prefix(500 * 64)) / 0.02 - 1) < 0.03)
        #expect(wte.suffix(12 * 64).allSatisfy { $0 == 0 }, "pad rows 500..<512 are zero")
        for b in [ParameterTensor.ln1b, .qkvb, .attprojb, .ln2b, .fcb, .fcprojb, .lnfb] {
            #expect(ck.values(b).allSatisfy { $0 == 0 }, "\(b.name) is zero")
        }
        for w in [ParameterTensor.ln1w, .ln2w, .lnfw] { #expect(ck.values(w).allSatisfy { $0 == 1 }, "\(w.name) is one") }
        // Layers draw from different streams.
        #expect(ck.parameters[t.offset(.qkvw, layer: 0)] != ck.parameters[t.offset(.qkvw, layer: 1)])
        // Normals: about 68% within one σ, 95% within two.
        let q = ck.values(.fcw)
        let one = Double(q.filter { abs($0) < 0.02 }.count) / Double(q.count)
        let two = Double(q.filter { abs($0) < 0.04 }.count) / Double(q.count)
        #expect(abs(one - 0.6827) < 0.01 && abs(two - 0.9545) < 0.01, "\(one) \(two)")
    }
}
