// Supervised fine-tuning records as `prep tokenize --format chat|alpaca|prompt-completion` reads
// them: each line through JSONParser, SupervisedExamples.turns for every format, then
// ChatRenderer.render with a tokenizer trained at start, for the default template (special text
// refused, and allowed) and a ChatML-style one, whole and cut to 24 tokens. Every failure must be
// a JSONParseError or an SFTError. A rendered example must have one mask bit per token, trained
// exactly on its answers' tokens (so its trained count is theirs), decode to the template filled
// in with the turns, and cut to a prefix of itself.
import DataPrep
import FuzzSupport
import ShardFormat
import Tokenization

let corpus = """
    User: What is AI?\n\nAssistant: Artificial Intelligence is the branch of engineering devoted to machines that think.
    Instruction: translate to French.\n\nInput: good morning\n\nOutput: bonjour
    评论：总体来说，还是满不错，下次去还住\n情感：正面 {"messages": [{"role": "user", "content": "x"}]}
    System: be brief. 😀 café 12345
    """

let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

let tokenizer: Tokenizer = {
    var counts: [[UInt8]: UInt64] = [:]
    for piece in PreTokenizer(.gpt2).split(corpus) { counts[Array(piece.utf8), default: 0] += 1 }
    var options = BPETrainerOptions()
    options.vocabSize = 400
    options.minFrequency = 1
    let vocabulary = BPETrainer.tokens(merges: BPETrainer.train(counts: counts, options: options))
    do {
        return try Tokenizer(vocabulary: vocabulary,
                             specialTokens: Dictionary(uniqueKeysWithValues: specials.enumerated().map { ($1, vocabulary.count + $0) }),
                             pattern: .gpt2)
    } catch {
        fatalError("cannot build the tokenizer: \(error)")
    }
}()

let chatML: ChatTemplate = {
    var t = ChatTemplate()
    t.name = "chatml"
    t.begin = ""
    t.system = "<|im_start|>system\n{content}<|im_end|>\n"
    t.user = "<|im_start|>user\n{content}<|im_end|>\n"
    t.assistant = "<|im_start|>assistant\n{content}<|im_end|>\n"
    t.completion = "{content}<|im_end|>"
    return t
}()

let renderers: [ChatRenderer] = {
    do {
        let eot = tokenizer.specialTokens["<|endoftext|>"]!
        return [try ChatRenderer(template: .default, tokenizer: tokenizer, endOfText: eot),
                try ChatRenderer(template: .default, tokenizer: tokenizer, endOfText: eot, allowSpecialText: true),
                try ChatRenderer(template: chatML, tokenizer: tokenizer, endOfText: tokenizer.specialTokens["<|im_end|>"]!)]
    } catch {
        fatalError("cannot make the renderers: \(error)")
    }
}()

/// The text a rendering must decode to: the template filled in with the turns.
func expectedText(_ turns: [SFTTurn], _ t: ChatTemplate) -> [UInt8] {
    var text = t.begin
    for turn in turns {
        let (prefix, suffix) = t.parts(for: turn.role)
        text += prefix + turn.content + suffix
    }
    return Array(text.utf8)
}

/// The render, or the reason it was refused; any other error is a finding.
func render(_ renderer: ChatRenderer, _ turns: [SFTTurn], maxTokens: Int) -> Result<RenderedExample, SFTError> {
    do {
        return .success(try renderer.render(turns, maxTokens: maxTokens))
    } catch let e as SFTError {
        precondition(e.reason == .specialTokenText || e.reason == .duplicatedEndOfText, "render refused with \(e.reason)")
        return .failure(e)
    } catch {
        fatalError("ChatRenderer.render threw \(error)")
    }
}

func check(_ turns: [SFTTurn], _ renderer: ChatRenderer) {
    // Bytes, not Swift's String.contains: a combining mark after ">" hides the token from it.
    let spellsSpecial = turns.contains { turn in
        let text = Array(turn.content.utf8)
        return specials.contains { s in
            let needle = Array(s.utf8)
            return text.count >= needle.count && (0...(text.count - needle.count)).contains { text[$0..<($0 + needle.count)].elementsEqual(needle) }
        }
    }
    let whole: RenderedExample
    switch render(renderer, turns, maxTokens: Int.max) {
    case let .failure(e):
        if e.reason == .specialTokenText { precondition(spellsSpecial && !renderer.allowSpecialText, "refused: \(e)") }
        guard case let .failure(again) = render(renderer, turns, maxTokens: 24), again.reason == e.reason else {
            fatalError("the cut render does not refuse as the whole one does (\(e))")
        }
        return
    case let .success(r):
        precondition(!spellsSpecial || renderer.allowSpecialText, "special token text was not refused")
        whole = r
    }
    precondition(whole.tokens.count == whole.mask.count, "\(whole.tokens.count) tokens, \(whole.mask.count) mask bits")
    precondition(!whole.truncated, "cut without a limit")
    precondition(whole.answers.count == turns.filter(\.trained).count, "\(whole.answers.count) answers")
    var inAnswer = [Bool](repeating: false, count: whole.tokens.count)
    var answerTokens = 0
    var previousEnd = 0
    for a in whole.answers {
        precondition(a.lowerBound >= previousEnd && a.upperBound <= whole.tokens.count, "answer \(a) out of order or range")
        for k in a { inAnswer[k] = true }
        answerTokens += a.count
        previousEnd = a.upperBound
    }
    precondition(whole.mask == inAnswer, "the mask is not the answers' tokens")
    precondition(whole.trainedTokens == answerTokens, "\(whole.trainedTokens) trained tokens, \(answerTokens) in the answers")
    do {
        let text = try tokenizer.decode(whole.tokens.map(Int.init))
        precondition(text == expectedText(turns, renderer.template), "the tokens do not decode to the filled-in template")
    } catch {
        fatalError("cannot decode a rendered example: \(error)")
    }
    guard case let .success(cut) = render(renderer, turns, maxTokens: 24) else { fatalError("the cut render was refused") }
    precondition(cut.tokens == Array(whole.tokens.prefix(24)) && cut.mask == Array(whole.mask.prefix(24)),
                 "the cut example is not a prefix of the whole one")
    precondition(cut.truncated == (whole.tokens.count > 24) && cut.answers == whole.answers, "the cut changed the answers")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    for line in bytes.split(separator: 0x0A, omittingEmptySubsequences: true).prefix(8) {
        let record: JSONValue
        do {
            record = try JSONParser.parse(Array(line))
        } catch is JSONParseError {
            continue
        } catch {
            fatalError("not a JSONParseError: \(error)")
        }
        for format in SFTFormat.allCases {
            let turns: [SFTTurn]
            do {
                turns = try SupervisedExamples.turns(record, format: format)
            } catch let e as SFTError {
                precondition(e.reason == .invalidExample || e.reason == .noAnswer, "turns refused with \(e.reason)")
                continue
            } catch {
                fatalError("SupervisedExamples.turns threw \(error)")
            }
            precondition(turns.contains(where: \.trained), "turns without an answer")
            for renderer in renderers { check(turns, renderer) }
        }
    }
    return 0
}
