@testable import DataPrep
import Foundation
import ShardFormat
import Testing

/// The --config files of ingest, clean and dedup (decodeSnakeCaseYAML): every way a file can be
/// wrong is a ConfigError that names the key, and options written as --print-config writes them
/// read back the same. The inputs are the stage-config fuzz target's findings, minimized.
@Suite struct StageConfigTests {
    func configError(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let e as ConfigError {
            return e.message
        } catch {
            Issue.record("not a ConfigError: \(type(of: error)): \(error)")
            return nil
        }
    }

    @Test func printedOptionsReadBack() throws {
        #expect(try IngestOptions.fromYAML(ConfigFile.yaml(IngestOptions.defaults)) == IngestOptions.defaults)
        #expect(try CleanOptions.fromYAML(ConfigFile.yaml(CleanOptions.defaults)) == CleanOptions.defaults)
        #expect(try DedupOptions.fromYAML(ConfigFile.yaml(DedupOptions.defaults)) == DedupOptions.defaults)
        var c = CleanOptions()
        c.gopherRepetition.topNGrams = [NGramLimit(n: 5, fraction: 0.5)]
        c.language.keep = ["zh", "yes", "1"]
        #expect(try CleanOptions.fromYAML(ConfigFile.yaml(c)) == c)
    }

    /// `id_field:` (9 bytes, the fuzzer's crash minimized) and a list item without a field used to
    /// escape as Foundation's DecodingError.
    @Test func aNullOrMissingFieldIsNamed() {
        #expect(configError { _ = try IngestOptions.fromYAML("id_field:") }
            == "\"id_field\" is null; leave the key out for its default")
        let noN = "gopher_repetition:\n  top_n_grams:\n    - n: 2\n      fraction: 0.2\n    - fraction: 0.1\n"
        #expect(configError { _ = try CleanOptions.fromYAML(noN) } == "\"gopher_repetition.top_n_grams[1]\" lacks \"n\"")
        #expect(configError { _ = try CleanOptions.fromYAML("gopher_repetition:\n  top_n_grams: [{n: x, fraction: 1}]\n") }?
            .hasPrefix("bad value for \"gopher_repetition.top_n_grams[0].n\"") == true)
    }

    /// YAML values that JSON has not (a timestamp, binary, NaN, a mapping with a number key) used
    /// to escape as an NSError from JSONSerialization.
    @Test(arguments: ["text_field: 2024-01-01", "text_field: !!binary aGVsbG8=", "max_ratio: .nan", "shard_size: {1: 2}"])
    func aValueJSONCannotHoldIsNamed(_ yaml: String) {
        let key = String(yaml.prefix { $0 != ":" })
        #expect(configError { _ = try IngestOptions.fromYAML(yaml) }?.hasPrefix("bad value for \"\(key)\"") == true)
    }

    /// Eight lines of ten aliases each (294 bytes) expand to 10^8 values: the loader ran past the
    /// fuzzer's 10-second timeout building them.
    @Test func aliasesThatExpandWithoutBoundAreRefused() {
        var yaml = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
        for (name, previous) in zip("bcdefgh", "abcdefg") {
            yaml += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 10).joined(separator: ",") + "]\n"
        }
        let start = Date()
        #expect(configError { _ = try CleanOptions.fromYAML(yaml) }?.contains("expands to more than 100000 values") == true)
        #expect(Date().timeIntervalSince(start) < 2)
        // A few aliases within the bound are still YAML as usual.
        let o = try? CleanOptions.fromYAML("language:\n  keep: &k [zh, en]\npii:\n  enabled: true\n")
        #expect(o?.language.keep == ["zh", "en"])
    }

    /// bands × rows past Int.max trapped in MinHashOptions.validate (prep dedup --config crashed).
    @Test func aBandProductPastIntMaxIsRefused() throws {
        let o = try DedupOptions.fromYAML("minhash:\n  bands: 4611686018427387904\n  rows: 4\n")
        #expect(throws: DedupError.self) { try o.minhash.validate() }
    }
}
