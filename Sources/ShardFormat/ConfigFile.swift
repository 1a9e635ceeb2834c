import Foundation
import Yams

// Configuration files (`--config`, pipeline stages, chat templates): YAML mappings with
// snake_case keys onto typed Codable options. Both tools read them, so they live with the other
// contracts between prep and tune.

public struct ConfigError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

public enum ConfigFile {
    /// JSON with snake_case keys: the form options take in manifests and configuration files.
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return e
    }
    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}

/// Decodes a YAML mapping onto `base`: the base value is encoded, the YAML's keys replace its
/// fields (nested mappings merge into nested options), and the result is decoded again, so
/// defaults stay where the types declare them. An unknown key, at any depth, is an error that
/// names its path.
public func decodeSnakeCaseYAML<T: Codable>(_ yaml: String, into base: T) throws -> T {
    let loaded: Any?
    do { loaded = try Yams.load(yaml: yaml) } catch { throw ConfigError(message: "invalid YAML: \(error)") }
    guard let given = loaded as? [String: Any] else {
        if loaded == nil { return base }
        throw ConfigError(message: "expected a mapping of option names to values")
    }
    let baseData = try ConfigFile.encoder.encode(base)
    guard let fields = try JSONSerialization.jsonObject(with: baseData) as? [String: Any] else {
        throw ConfigError(message: "internal: cannot encode the defaults")
    }
    let merged = try merge(given, into: fields, path: "")
    let data = try JSONSerialization.data(withJSONObject: merged)
    do {
        return try ConfigFile.decoder.decode(T.self, from: data)
    } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.dataCorrupted(ctx) {
        let key = ctx.codingPath.map(\.stringValue).joined(separator: ".")
        throw ConfigError(message: "bad value for \"\(key)\": \(ctx.debugDescription)")
    }
}

private func merge(_ given: [String: Any], into base: [String: Any], path: String) throws -> [String: Any] {
    var out = base
    for (key, value) in given.sorted(by: { $0.key < $1.key }) {
        let here = path.isEmpty ? key : path + "." + key
        guard let current = base[key] else {
            throw ConfigError(message: "unknown key \"\(here)\" (known: \(base.keys.sorted().joined(separator: ", ")))")
        }
        if let nested = value as? [String: Any], let currentNested = current as? [String: Any] {
            out[key] = try merge(nested, into: currentNested, path: here)
        } else {
            out[key] = value
        }
    }
    return out
}

