import Foundation
import Tokenization

// Chat templates and loss masks: how a supervised example becomes tokens. `prep tokenize` renders
// the training data with them and `tune` renders prompts for evaluation and generation with
// them, so the two must be one piece of code: a contract between the tools, like the shards.
//
// The mask is computed on the tokens of the whole rendered example, not by tokenizing the
// pieces one by one: BPE joins the space after "Assistant:" to the answer's first word, so
// tokenizing "Assistant: " and "Hello" apart gives tokens the model never sees at run time. A
// token is trained when any of its bytes lie in a trained span (an assistant message, or a
// completion, and the end-of-turn that follows it).

/// How an example becomes text. Each role's string holds `{content}` once; the text after
/// `{content}` in `assistant` and `completion` is the end-of-turn, and is trained with the
/// answer. Special tokens are written by name (`<|endoftext|>`) in the template only: in
/// the examples' text they are ordinary text.
public struct ChatTemplate: Codable, Equatable, Sendable {
    public var name = "kiln-plain"
    /// Starts every example, untrained. The default is the end-of-text that starts every
    /// document in llm.c's shards, so examples and documents are separated alike.
    public var begin = "<|endoftext|>"
    public var system = "System: {content}\n\n"
    public var user = "User: {content}\n\n"
    public var assistant = "Assistant: {content}<|endoftext|>"
    /// For `prompt-completion` records: the prompt is untrained, the completion trained.
    public var prompt = "{content}"
    public var completion = "{content}<|endoftext|>"

    public init() {}
    /// A plain-text template for base GPT-2-style models, which know no chat tokens: role names
    /// as text, and the end-of-text the model already knows as the end of each answer, so that
    /// generation stops there.
    public static let `default` = ChatTemplate()

    /// Reads a template from YAML (snake_case keys; keys left out keep the default's value;
    /// an unknown key is an error).
    public static func fromYAML(_ yaml: String) throws -> ChatTemplate {
        let t = try decodeSnakeCaseYAML(yaml, into: ChatTemplate())
        try t.validate()
        return t
    }

    public func validate() throws {
        for (key, s) in [("system", system), ("user", user), ("assistant", assistant),
                         ("prompt", prompt), ("completion", completion)] {
            let n = s.components(separatedBy: "{content}").count - 1
            guard n == 1 else {
                throw ConfigError(message: "template \(name): \(key) must hold {content} exactly once (found \(n))")
            }
        }
        guard !begin.contains("{content}") else {
            throw ConfigError(message: "template \(name): begin must not hold {content}")
        }
    }

    /// The text before and after `{content}`.
    public static func parts(_ s: String) -> (prefix: String, suffix: String) {
        let r = s.range(of: "{content}")!
        return (String(s[..<r.lowerBound]), String(s[r.upperBound...]))
    }

    /// The text before and after a turn's content, by the turn's role.
    public func parts(for role: SFTTurn.Role) -> (prefix: String, suffix: String) {
        switch role {
        case .system: Self.parts(system)
        case .user: Self.parts(user)
        case .assistant: Self.parts(assistant)
        case .prompt: Self.parts(prompt)
        case .completion: Self.parts(completion)
        }
    }
}

/// One message of an example.
public struct SFTTurn: Equatable, Sendable {
    public enum Role: String, Sendable { case system, user, assistant, prompt, completion }
    public var role: Role
    public var content: String
    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }
    public var trained: Bool { role == .assistant || role == .completion }
}

/// Why an example was not written. The raw values are the manifest's keys.
public enum SFTRefusal: String, Codable, Sendable, CaseIterable {
    case invalidJSON = "invalid-json"
    case invalidExample = "invalid-example"
    case noAnswer = "no-answer"
    case specialTokenText = "special-token-text"
    case duplicatedEndOfText = "duplicated-end-of-text"
    case nothingTrained = "nothing-trained-after-truncation"
}

public struct SFTError: Error, CustomStringConvertible {
    public var reason: SFTRefusal
    public var message: String
    public init(reason: SFTRefusal, message: String) {
        self.reason = reason
        self.message = message
    }
    public var description: String { message }
}

/// An example rendered into tokens, with its loss mask.
public struct RenderedExample: Equatable, Sendable {
    public var tokens: [UInt32]
    /// `mask[k]`: token k is a trained target (the loss of predicting it counts).
    public var mask: [Bool]
    /// Token ranges of each answer (assistant message or completion, with its end-of-turn).
    public var answers: [Range<Int>]
    /// Whether the example was cut at the token limit.
    public var truncated = false

    public var trainedTokens: Int { mask.reduce(0) { $0 + ($1 ? 1 : 0) } }
}

/// Renders examples with a template and a tokenizer.
public struct ChatRenderer: Sendable {
    public let template: ChatTemplate
    public let tokenizer: Tokenizer
    public let endOfText: Int
    /// When false, an example whose text spells a special token (`<|endoftext|>`) is refused:
    /// it is almost always an end marker pasted into the data by hand, which would be trained
    /// as ordinary text right before the real one.
    public let allowSpecialText: Bool
    private let specials: [(text: [UInt8], id: Int)]

    public init(template: ChatTemplate, tokenizer: Tokenizer, endOfText: Int, allowSpecialText: Bool = false) throws {
        try template.validate()
        self.template = template
        self.tokenizer = tokenizer
        self.endOfText = endOfText
        self.allowSpecialText = allowSpecialText
        // Longest first, so that a special token that is a prefix of another does not win.
        specials = tokenizer.specialTokens.map { (Array($0.key.utf8), $0.value) }
            .sorted { $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id }
        // A template that puts two end-of-texts side by side would teach the model to emit
        // both (the double-EOS bug of templates that add one the tokenizer adds again). The
        // probe's messages hold text, so only the template itself can put two together.
        let probe = [SFTTurn(role: .system, content: "x"), SFTTurn(role: .user, content: "x"),
                     SFTTurn(role: .assistant, content: "x"), SFTTurn(role: .user, content: "x"),
                     SFTTurn(role: .assistant, content: "x")]
        for turns in [probe, [SFTTurn(role: .prompt, content: "x"), SFTTurn(role: .completion, content: "x")]] {
            let r = try render(turns, maxTokens: Int.max, checkDuplicates: false)
            if Self.hasAdjacent(r.tokens, UInt32(endOfText)) {
                throw ConfigError(message: "template \(template.name) puts two end-of-text tokens side by side")
            }
        }
    }

    static func hasAdjacent(_ tokens: [UInt32], _ t: UInt32) -> Bool {
        tokens.count > 1 && zip(tokens, tokens.dropFirst()).contains { $0 == t && $1 == t }
    }

    /// Renders `turns` and cuts the result to `maxTokens` (`answers` keep their uncut ranges, so
    /// the caller can tell which answers the cut shortened or removed). Throws `SFTError` when
    /// the example must be refused.
    public func render(_ turns: [SFTTurn], maxTokens: Int) throws -> RenderedExample {
        try render(turns, maxTokens: maxTokens, checkDuplicates: true)
    }

    private func render(_ turns: [SFTTurn], maxTokens: Int, checkDuplicates: Bool) throws -> RenderedExample {
        var out = RenderedExample(tokens: [], mask: [], answers: [])
        // Ordinary text waiting to be tokenized in one piece, and its trained byte ranges.
        var text: [UInt8] = []
        var trainedSpans: [Range<Int>] = []
        var answerStart = 0

        func flush() {
            guard !text.isEmpty else { return }
            let ids = tokenizer.encodeOrdinary(text)
            var at = 0
            var span = 0
            for id in ids {
                let n = tokenizer.bytes(forToken: id)?.count ?? 0
                let r = at ..< at + n
                while span < trainedSpans.count && trainedSpans[span].upperBound <= r.lowerBound { span += 1 }
                let trained = span < trainedSpans.count && trainedSpans[span].overlaps(r)
                out.tokens.append(UInt32(id))
                out.mask.append(trained)
                at += n
            }
            text.removeAll(keepingCapacity: true)
            trainedSpans.removeAll(keepingCapacity: true)
        }
        /// Appends template text: special tokens by name, the rest as ordinary text.
        func appendTemplate(_ s: String, trained: Bool) {
            let b = Array(s.utf8)
            var i = 0
            var plainStart = 0
            func plain(upTo end: Int) {
                guard end > plainStart else { return }
                if trained { trainedSpans.append(text.count ..< text.count + end - plainStart) }
                text.append(contentsOf: b[plainStart..<end])
            }
            while i < b.count {
                if let sp = specials.first(where: { b.count - i >= $0.text.count && b[i..<(i + $0.text.count)].elementsEqual($0.text) }) {
                    plain(upTo: i)
                    flush()
                    out.tokens.append(UInt32(sp.id))
                    out.mask.append(trained)
                    i += sp.text.count
                    plainStart = i
                } else {
                    i += 1
                }
            }
            plain(upTo: b.count)
        }
        func appendContent(_ s: String, trained: Bool) throws {
            let b = Array(s.utf8)
            if !allowSpecialText, let sp = specials.first(where: { contains(b, $0.text) }) {
                throw SFTError(reason: .specialTokenText,
                               message: "the text spells the special token \(String(decoding: sp.text, as: UTF8.self)) (--allow-special-text encodes it as ordinary text)")
            }
            if trained { trainedSpans.append(text.count ..< text.count + b.count) }
            text.append(contentsOf: b)
        }

        appendTemplate(template.begin, trained: false)
        for turn in turns {
            let (prefix, suffix) = template.parts(for: turn.role)
            appendTemplate(prefix, trained: false)
            if turn.trained { answerStart = out.tokens.count }
            try appendContent(turn.content, trained: turn.trained)
            appendTemplate(suffix, trained: turn.trained)
            if turn.trained {
                // The answer is its trained tokens: from the first token that holds one of its
                // bytes (BPE may have joined it to the prefix's last space) to its end-of-turn.
                flush()
                let first = out.mask[answerStart...].firstIndex(of: true) ?? out.tokens.count
                out.answers.append(first ..< out.tokens.count)
            }
        }
        flush()
        if checkDuplicates && Self.hasAdjacent(out.tokens, UInt32(endOfText)) {
            throw SFTError(reason: .duplicatedEndOfText, message: "the rendered example holds two end-of-text tokens side by side")
        }
        if out.tokens.count > maxTokens {
            out.tokens.removeSubrange(maxTokens...)
            out.mask.removeSubrange(maxTokens...)
            out.truncated = true
        }
        return out
    }

    private func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, hay.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        while i <= hay.count - needle.count {
            if hay[i] == first && hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}
