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
/// fields (nested mappings merge into nested options), and the result is decoded again, so
/// defaults stay where the types declare them. An unknown key, at any depth, is an error that
/// names its path.
func decodeSnakeCaseYAML<T: Codable>(_ yaml: String, into base: T) throws -> T {
    let loaded: Any?
    do { loaded = try Yams.load(yaml: yaml) } catch { throw ConfigError(message: "invalid YAML: \(error)") }
    guard let given = loaded as? [String: Any] else {
        if loaded == nil { return base }
        throw ConfigError(message: "expected a mapping of option names to values")
    }
    let baseData = try IngestManifest.encoder.encode(base)
    guard let fields = try JSONSerialization.jsonObject(with: baseData) as? [String: Any] else {
        throw ConfigError(message: "internal: cannot encode the defaults")
    }
    let merged = try merge(given, into: fields, path: "")
    let data = try JSONSerialization.data(withJSONObject: merged)
    do {
        return try IngestManifest.decoder.decode(T.self, from: data)
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

/// Options as YAML with snake_case keys, in the form `--config` reads: what `--print-config`
/// shows. Written from the JSON encoding, so booleans stay booleans and text stays readable.
public func configYAML<T: Encodable>(_ value: T) throws -> String {
    let json = try JSONParser.parse(Array(try IngestManifest.encoder.encode(value)))
    var out = ""
    emitYAML(json, indent: 0, into: &out)
    return out
}

private func emitYAML(_ v: JSONValue, indent: Int, into out: inout String) {
    let pad = String(repeating: "  ", count: indent)
    switch v {
    case let .object(members):
        for m in members {
            switch m.value {
            case let .object(inner) where !inner.isEmpty:
                out += "\(pad)\(m.key):\n"
                emitYAML(m.value, indent: indent + 1, into: &out)
            case let .array(items) where !items.isEmpty:
                out += "\(pad)\(m.key):\n"
                for item in items {
                    if case .object = item {
                        var nested = ""
                        emitYAML(item, indent: indent + 2, into: &nested)
                        out += "\(pad)  -" + nested.dropFirst(pad.count + 3) + ""
                    } else {
                        out += "\(pad)  - \(scalarYAML(item))\n"
                    }
                }
            default:
                out += "\(pad)\(m.key): \(scalarYAML(m.value))\n"
            }
        }
    default:
        out += pad + scalarYAML(v) + "\n"
    }
}

private func scalarYAML(_ v: JSONValue) -> String {
    switch v {
    case .null: return "null"
    case let .bool(b): return b ? "true" : "false"
    case let .number(n): return n
    case .string:
        // A JSON string is a valid YAML double-quoted scalar.
        var w = JSONWriter()
        w.write(v)
        return String(decoding: w.bytes, as: UTF8.self)
    case .array: return "[]"
    case .object: return "{}"
    }
}
