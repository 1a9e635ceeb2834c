import Foundation
import ShardFormat

extension IngestOptions {
    /// Options from a YAML mapping with snake_case keys (`text_field: body`). Keys left out keep
    /// their defaults; an unknown key is an error that names it.
    public static func fromYAML(_ yaml: String) throws -> IngestOptions {
        try decodeSnakeCaseYAML(yaml, into: IngestOptions())
    }
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
