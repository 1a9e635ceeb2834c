import Foundation
import ShardFormat

extension IngestOptions {
    /// Options from a YAML mapping with snake_case keys (`text_field: body`). Keys left out keep
    /// their defaults; an unknown key is an error that names it.
    public static func fromYAML(_ yaml: String) throws -> IngestOptions {
        try decodeSnakeCaseYAML(yaml, into: IngestOptions())
    }
}
