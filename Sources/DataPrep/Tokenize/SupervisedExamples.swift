import Foundation
import ShardFormat
import Tokenization

// Supervised fine-tuning examples: the three record shapes users have, read into turns that
// ShardFormat's ChatRenderer turns into tokens and a loss mask.

/// The record shape of an SFT input file.
public enum SFTFormat: String, Codable, Sendable, CaseIterable {
    /// `{"messages": [{"role": "system"|"user"|"assistant", "content": "…"}, …]}`
    case chat
    /// `{"instruction": "…", "input": "…", "output": "…"}` (`input` may be missing or empty)
    case alpaca
    /// `{"prompt": "…", "completion": "…"}`
    case promptCompletion = "prompt-completion"
}

public enum SupervisedExamples {
    /// The turns of one record in `format`.
    public static func turns(_ record: JSONValue, format: SFTFormat) throws -> [SFTTurn] {
        func string(_ key: String, in v: JSONValue, required: Bool = true) throws -> String? {
            switch v[key] {
            case let .string(s)?: return s
            case nil, .null?:
                if required { throw SFTError(reason: .invalidExample, message: "missing \"\(key)\"") }
                return nil
            default: throw SFTError(reason: .invalidExample, message: "\"\(key)\" is not a string")
            }
        }
        guard case .object = record else {
            throw SFTError(reason: .invalidExample, message: "the record is not a JSON object")
        }
        var turns: [SFTTurn] = []
        switch format {
        case .chat:
            guard case let .array(messages)? = record["messages"] else {
                throw SFTError(reason: .invalidExample, message: "missing \"messages\" array")
            }
            for (i, m) in messages.enumerated() {
                guard let roleName = try string("role", in: m), let content = try string("content", in: m) else { continue }
                guard let role = SFTTurn.Role(rawValue: roleName), role == .system || role == .user || role == .assistant else {
                    throw SFTError(reason: .invalidExample,
                                   message: "message \(i + 1) has role \"\(roleName)\" (expected system, user or assistant)")
                }
                turns.append(SFTTurn(role: role, content: content))
            }
        case .alpaca:
            var question = try string("instruction", in: record)!
            if let input = try string("input", in: record, required: false), !input.isEmpty {
                question += "\n\n" + input
            }
            turns = [SFTTurn(role: .user, content: question),
                     SFTTurn(role: .assistant, content: try string("output", in: record)!)]
        case .promptCompletion:
            turns = [SFTTurn(role: .prompt, content: try string("prompt", in: record)!),
                     SFTTurn(role: .completion, content: try string("completion", in: record)!)]
        }
        guard turns.contains(where: \.trained) else {
            throw SFTError(reason: .noAnswer, message: "no assistant message: nothing to train on")
        }
        return turns
    }
}

