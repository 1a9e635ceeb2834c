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

    /// Options as YAML with snake_case keys in sorted order, in the form `--config` reads:
    /// what `--print-config` shows. Written from the JSON encoding, so booleans stay booleans and
    /// text is quoted exactly when JSON quotes it.
    public static func yaml<T: Encodable>(_ value: T) throws -> String {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let node = try Yams.compose(yaml: String(decoding: try e.encode(value), as: UTF8.self)) else { return "" }
        var out = ""
        emitYAML(node, indent: 0, into: &out)
        return out
    }

    private static func emitYAML(_ node: Node, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent)
        switch node {
        case let .mapping(mapping):
            for (key, value) in mapping {
                let k = key.string ?? ""
                switch value {
                case let .mapping(inner) where !inner.isEmpty:
                    out += "\(pad)\(k):\n"
                    emitYAML(value, indent: indent + 1, into: &out)
                case let .sequence(items) where !items.isEmpty:
                    out += "\(pad)\(k):\n"
                    for item in items {
                        if case .mapping = item {
                            var nested = ""
                            emitYAML(item, indent: indent + 2, into: &nested)
                            out += "\(pad)  -" + nested.dropFirst(pad.count + 3)
                        } else {
                            out += "\(pad)  - \(scalarYAML(item))\n"
                        }
                    }
                default:
                    out += "\(pad)\(k): \(scalarYAML(value))\n"
                }
            }
        default:
            out += pad + scalarYAML(node) + "\n"
        }
    }

    private static func scalarYAML(_ node: Node) -> String {
        switch node {
        case let .scalar(s):
            guard s.style == .doubleQuoted || s.style == .singleQuoted else { return s.string }
            // A JSON string is a valid YAML double-quoted scalar.
            let e = JSONEncoder()
            e.outputFormatting = [.withoutEscapingSlashes]
            return (try? String(decoding: e.encode(s.string), as: UTF8.self)) ?? "\"\""
        case .sequence: return "[]"
        default: return "{}"
        }
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

