// The --config files of prep ingest, clean and dedup, prep tokenize's --template and tune run's
// --config, as the commands read them: IngestOptions.fromYAML, CleanOptions.fromYAML,
// DedupOptions.fromYAML (then MinHashOptions.validate, as prep dedup does), ChatTemplate.fromYAML
// and decodeSnakeCaseYAML into TrainOptions, each on the input.
// Every failure must be a ConfigError (DedupError from validate). Options that load must come
// back the same when written as --print-config writes them (ConfigFile.yaml) and read again.
import DataPrep
import FineTuning
import FuzzSupport
import ShardFormat

func load<T: Codable & Equatable>(_ yaml: String, _ what: String, _ read: (String) throws -> T) -> T? {
    let value: T
    do {
        value = try read(yaml)
    } catch is ConfigError {
        return nil
    } catch {
        fatalError("\(what).fromYAML threw \(type(of: error)): \(error)")
    }
    do {
        let printed = try ConfigFile.yaml(value)
        let again = try read(printed)
        precondition(again == value, "\(what): options written as YAML read back different:\n\(printed)")
    } catch {
        fatalError("\(what): options that loaded do not load again once written (\(error))")
    }
    return value
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let yaml = String(decoding: input(data, size), as: UTF8.self)
    _ = load(yaml, "IngestOptions", IngestOptions.fromYAML)
    _ = load(yaml, "CleanOptions", CleanOptions.fromYAML)
    if let dedup = load(yaml, "DedupOptions", DedupOptions.fromYAML) {
        do {
            try dedup.minhash.validate()
        } catch is DedupError {
        } catch {
            fatalError("MinHashOptions.validate threw \(error)")
        }
    }
    _ = load(yaml, "ChatTemplate", ChatTemplate.fromYAML)
    _ = load(yaml, "TrainOptions") { try decodeSnakeCaseYAML($0, into: TrainOptions()) }
    return 0
}
