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
/// names its path; so is every other way a file can be wrong: each is a `ConfigError`.
public func decodeSnakeCaseYAML<T: Codable>(_ yaml: String, into base: T) throws -> T {
    let root: Node?
    do { root = try Yams.compose(yaml: yaml) } catch { throw ConfigError(message: "invalid YAML: \(error)") }
    guard let root else { return base }
    // Aliases share a node, and building Swift values copies it at every use: eight lines of
    // ten aliases each make 10^8 values (the "billion laughs"). Count first, stopping early.
    var budget = maxConfigValues
    guard fitsBudget(root, &budget) else {
        throw ConfigError(message: "the YAML expands to more than \(maxConfigValues) values (through aliases): "
                              + "not a configuration")
    }
    let loaded = root.any
    guard let given = loaded as? [String: Any] else {
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
        throw ConfigError(message: "bad value for \"\(snakeCasePath(ctx.codingPath))\": \(ctx.debugDescription)")
    } catch let DecodingError.keyNotFound(key, ctx) {
        // A list of records (top_n_grams) whose item lacks a field: the defaults cannot fill it.
        throw ConfigError(message: "\"\(snakeCasePath(ctx.codingPath))\" lacks \"\(snakeCasePath([key]))\"")
    } catch let DecodingError.valueNotFound(_, ctx) {
        throw ConfigError(message: "\"\(snakeCasePath(ctx.codingPath))\" is null; leave the key out for its default")
    } catch {
        throw ConfigError(message: "cannot read the options: \(error)")
    }
}

/// The most values (after aliases) a configuration file may hold; the largest real one, every
/// option of `prep clean`, holds about 200.
let maxConfigValues = 100_000

private func fitsBudget(_ node: Node, _ budget: inout Int) -> Bool {
    budget -= 1
    guard budget >= 0 else { return false }
    switch node {
    case let .mapping(m): return m.allSatisfy { fitsBudget($0.key, &budget) && fitsBudget($0.value, &budget) }
    case let .sequence(s): return s.allSatisfy { fitsBudget($0, &budget) }
    case .scalar, .alias: return true
    }
}

/// A decoding path as the file spells it: `gopher_repetition.top_n_grams[2]`, not the Swift names.
private func snakeCasePath(_ path: [CodingKey]) -> String {
    var out = ""
    for key in path {
        if let i = key.intValue { out += "[\(i)]"; continue }
        if !out.isEmpty { out += "." }
        let chars = Array(key.stringValue)
        for (i, c) in chars.enumerated() {
            // A capital starts a word after a small letter or digit, or ends a run of capitals
            // (topNGrams: top_n_grams), as JSONEncoder's convertToSnakeCase splits them.
            if c.isUppercase, i > 0,
               !chars[i - 1].isUppercase || (i + 1 < chars.count && chars[i + 1].isLowercase) {
                out += "_"
            }
            out += c.lowercased()
        }
    }
    return out
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
            // YAML has values JSON has not (timestamps, !!binary, .nan, mappings with number
            // keys): name the key rather than fail later in JSONSerialization.
            guard JSONSerialization.isValidJSONObject([value]) else {
                throw ConfigError(message: "bad value for \"\(here)\": \(value) is not a string, number, boolean, "
                                      + "list or mapping of them")
            }
            out[key] = value
        }
    }
    return out
}

