import Foundation
import Yams

public struct ConfigError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension IngestOptions {
    /// Options from a YAML mapping with snake_case keys (`text_field: body`). Keys left out keep
    /// their defaults; an unknown key is an error that names it.
    public static func fromYAML(_ yaml: String) throws -> IngestOptions {
        try decodeSnakeCaseYAML(yaml, into: IngestOptions())
    }
}

/// Decodes a YAML mapping onto `base`: the base value is encoded, the YAML's keys replace its
/// fields, and the result is decoded again, so defaults stay where the type declares them.
func decodeSnakeCaseYAML<T: Codable>(_ yaml: String, into base: T) throws -> T {
    let loaded: Any?
    do { loaded = try Yams.load(yaml: yaml) } catch { throw ConfigError(message: "invalid YAML: \(error)") }
    guard let given = loaded as? [String: Any] else {
        if loaded == nil { return base }
        throw ConfigError(message: "expected a mapping of option names to values")
    }
    let baseData = try IngestManifest.encoder.encode(base)
    guard var fields = try JSONSerialization.jsonObject(with: baseData) as? [String: Any] else {
        throw ConfigError(message: "internal: cannot encode the defaults")
    }
    for (key, value) in given.sorted(by: { $0.key < $1.key }) {
        guard fields[key] != nil else {
            throw ConfigError(message: "unknown key \"\(key)\" (known: \(fields.keys.sorted().joined(separator: ", ")))")
        }
        fields[key] = value
    }
    let data = try JSONSerialization.data(withJSONObject: fields)
    do {
        return try IngestManifest.decoder.decode(T.self, from: data)
    } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.dataCorrupted(ctx) {
        let key = ctx.codingPath.map(\.stringValue).joined(separator: ".")
        throw ConfigError(message: "bad value for \"\(key)\": \(ctx.debugDescription)")
    }
}
