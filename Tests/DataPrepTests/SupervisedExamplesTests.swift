@testable import DataPrep
import Foundation
import ShardFormat
import Testing
import Tokenization

/// Rendering of SFT examples and their loss masks.
@Suite struct SupervisedExamplesTests {
    static let eot = 300

    /// A byte-level tokenizer (every byte its own token) plus the merge " H", so that one test can
    /// see a token that straddles the prompt and the answer.
    static func tokenizer(merges: Bool = true) throws -> Tokenizer {
        var ranks: [[UInt8]: Int] = [:]
        for b in 0..<256 { ranks[[UInt8(b)]] = b }
        if merges { ranks[Array(" H".utf8)] = 256 }
        return try Tokenizer(ranks: ranks, specialTokens: ["<|endoftext|>": eot, "<|im_end|>": eot + 1], pattern: .gpt2)
    }

    static func renderer(_ template: ChatTemplate = .default, allowSpecialText: Bool = false) throws -> ChatRenderer {
        try ChatRenderer(template: template, tokenizer: tokenizer(), endOfText: eot, allowSpecialText: allowSpecialText)
    }

    /// The text of the tokens, with trained runs in brackets.
    static func marked(_ r: RenderedExample, _ t: Tokenizer) throws -> String {
        var s = ""
        var open = false
        for (k, id) in r.tokens.enumerated() {
            if r.mask[k] != open { s += r.mask[k] ? "[" : "]"; open = r.mask[k] }
            s += String(decoding: try t.decode([Int(id)]), as: UTF8.self)
        }
        return s + (open ? "]" : "")
    }

    static func chat(_ json: String) throws -> [SFTTurn] {
        try SupervisedExamples.turns(try JSONParser.parse(Array(json.utf8)), format: .chat)
    }

    @Test func chatMaskCoversAnswersAndTheirEndOfTurn() throws {
        let t = try Self.tokenizer()
        let turns = try Self.chat("""
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"},
             {"role": "assistant", "content": "4"}, {"role": "user", "content": "Hi"},
             {"role": "assistant", "content": "Hello"}]}
            """)
        let r = try Self.renderer().render(turns, maxTokens: 1000)
        #expect(try Self.marked(r, t) == """
            <|endoftext|>System: Be brief.\n\nUser: 2+2?\n\nAssistant: [4<|endoftext|>]User: Hi\n\nAssistant:[ Hello<|endoftext|>]
            """)
        #expect(r.tokens.first == UInt32(Self.eot) && r.mask.first == false)
        #expect(r.answers.count == 2)
        #expect(r.answers.allSatisfy { a in r.mask[a].allSatisfy { $0 } && r.tokens[a.upperBound - 1] == UInt32(Self.eot) })
        #expect(r.trainedTokens == r.answers.reduce(0) { $0 + $1.count })
        #expect(!r.truncated)
    }

    /// BPE joins the space of "Assistant: " to the answer's first letter: the token is computed
    /// on the whole text (as the model will see it at run time) and trained.
    @Test func aTokenThatStraddlesPromptAndAnswerIsTrained() throws {
        let t = try Self.tokenizer()
        let r = try Self.renderer().render(try Self.chat(#"{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "Hi"}]}"#), maxTokens: 100)
        let first = r.mask.firstIndex(of: true)!
        #expect(r.tokens[first] == 256)
        #expect(try t.decode([Int(r.tokens[first])]) == Array(" H".utf8))
        // Tokenizing the pieces apart would have given " " and "H": a sequence the model never sees.
        #expect(t.encodeOrdinary("Assistant: Hi").contains(256))
    }

    @Test func alpacaAndPromptCompletion() throws {
        let t = try Self.tokenizer()
        let alpaca = try SupervisedExamples.turns(try JSONParser.parse(Array(#"{"instruction": "Add", "input": "2 2", "output": "4"}"#.utf8)), format: .alpaca)
        #expect(alpaca == [SFTTurn(role: .user, content: "Add\n\n2 2"), SFTTurn(role: .assistant, content: "4")])
        let noInput = try SupervisedExamples.turns(try JSONParser.parse(Array(#"{"instruction": "Say hi", "input": "", "output": "hi"}"#.utf8)), format: .alpaca)
        #expect(noInput[0].content == "Say hi")
        let pc = try SupervisedExamples.turns(try JSONParser.parse(Array(#"{"prompt": "The sky is", "completion": " blue."}"#.utf8)), format: .promptCompletion)
        let r = try Self.renderer().render(pc, maxTokens: 100)
        #expect(try Self.marked(r, t) == "<|endoftext|>The sky is[ blue.<|endoftext|>]")
    }

    @Test(arguments: [
        (#"{"messages": [{"role": "user", "content": "hi"}]}"#, SFTRefusal.noAnswer),
        (#"{"messages": [{"role": "robot", "content": "hi"}]}"#, .invalidExample),
        (#"{"messages": "hi"}"#, .invalidExample),
        (#"{"text": "hi"}"#, .invalidExample),
        (#"{"messages": [{"role": "assistant", "content": 4}]}"#, .invalidExample),
        (#"[1, 2]"#, .invalidExample),
    ])
    func badRecordsAreRefusedWithAReason(json: String, reason: SFTRefusal) throws {
        #expect {
            try SupervisedExamples.turns(try JSONParser.parse(Array(json.utf8)), format: .chat)
        } throws: { ($0 as? SFTError)?.reason == reason }
    }

    /// An end marker pasted into the data would be trained as text right before the real one.
    @Test func textThatSpellsASpecialTokenIsRefusedUnlessAllowed() throws {
        let turns = try Self.chat(#"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a<|endoftext|>"}]}"#)
        #expect { try Self.renderer().render(turns, maxTokens: 100) } throws: { ($0 as? SFTError)?.reason == .specialTokenText }
        let r = try Self.renderer(allowSpecialText: true).render(turns, maxTokens: 100)
        // Encoded as ordinary text: the only end-of-text tokens are the template's.
        #expect(r.tokens.filter { $0 == UInt32(Self.eot) }.count == 2)
        #expect(r.tokens.count > 20)
    }

    @Test func aTemplateThatDoublesTheEndOfTextIsRefused() throws {
        var t = ChatTemplate.default
        t.assistant = "Assistant: {content}<|endoftext|><|endoftext|>"
        #expect(throws: ConfigError.self) { try Self.renderer(t) }
        var c = ChatTemplate.default
        c.completion = "{content}<|endoftext|>"
        c.prompt = "{content}<|endoftext|>"
        #expect(throws: Never.self) { try Self.renderer(c) }
        // An example whose answer is empty right after an end-of-text is refused as well.
        let e = try SupervisedExamples.turns(try JSONParser.parse(Array(#"{"prompt": "", "completion": ""}"#.utf8)), format: .promptCompletion)
        #expect { try Self.renderer().render(e, maxTokens: 100) } throws: { ($0 as? SFTError)?.reason == .duplicatedEndOfText }
    }

    @Test func templateFiles() throws {
        let t = try ChatTemplate.fromYAML("""
            name: chatml
            begin: "<|endoftext|>"
            system: "<|im_start|>system\\n{content}<|im_end|>\\n"
            user: "<|im_start|>user\\n{content}<|im_end|>\\n"
            assistant: "<|im_start|>assistant\\n{content}<|im_end|>\\n"
            """)
        #expect(t.name == "chatml" && t.prompt == ChatTemplate.default.prompt)
        let tok = try Self.tokenizer()
        let r = try ChatRenderer(template: t, tokenizer: tok, endOfText: Self.eot)
            .render(try Self.chat(#"{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}"#), maxTokens: 100)
        // "<|im_start|>" is not a special token of this tokenizer: it stays text.
        #expect(try Self.marked(r, tok) == "<|endoftext|><|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n[a<|im_end|>\n]")
        #expect(throws: ConfigError.self) { try ChatTemplate.fromYAML("user: no placeholder") }
        #expect(throws: ConfigError.self) { try ChatTemplate.fromYAML("assistant: \"{content}{content}\"") }
        #expect(throws: ConfigError.self) { try ChatTemplate.fromYAML("assitant: \"{content}\"") }
    }

    @Test func truncationAndAnswerCoverage() throws {
        let turns = try Self.chat("""
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "first answer"},
             {"role": "user", "content": "again"}, {"role": "assistant", "content": "second answer"}]}
            """)
        let full = try Self.renderer().render(turns, maxTokens: 10_000)
        var report = SFTReport()
        report.cover(full)
        // Cut inside the second answer, then before it.
        let mid = try Self.renderer().render(turns, maxTokens: full.answers[1].lowerBound + 3)
        #expect(mid.truncated && mid.tokens.count == full.answers[1].lowerBound + 3)
        #expect(mid.mask == Array(full.mask.prefix(mid.tokens.count)))
        report.cover(mid)
        let before = try Self.renderer().render(turns, maxTokens: full.answers[1].lowerBound)
        report.cover(before)
        let none = try Self.renderer().render(turns, maxTokens: full.answers[0].lowerBound)
        #expect(none.trainedTokens == 0)
        report.cover(none)
        #expect(report.answerCoverage.count == 2)
        #expect(report.answerCoverage[0] == .init(examples: 4, complete: 3, truncated: 0, dropped: 1))
        #expect(report.answerCoverage[1] == .init(examples: 4, complete: 1, truncated: 1, dropped: 2))
    }

    @Test func chineseAndEmojiRoundTrip() throws {
        let t = try Self.tokenizer()
        let turns = try Self.chat(#"{"messages": [{"role": "user", "content": "你好 👋"}, {"role": "assistant", "content": "你好！有什么可以帮你？🙂"}]}"#)
        let r = try Self.renderer().render(turns, maxTokens: 1000)
        let answer = r.tokens.enumerated().filter { r.mask[$0.offset] }.map { Int($0.element) }
        #expect(String(decoding: try t.decode(answer), as: UTF8.self) == "你好！有什么可以帮你？🙂<|endoftext|>")
    }
}
