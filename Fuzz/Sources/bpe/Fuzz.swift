// The BPE encoder on any bytes, for the gpt2, cl100k and o200k pre-tokenizers: decode(encode(x))
// must give x back, with and without special tokens allowed, and for inputs up to 1 KiB the ids
// must be those of the slow, obviously right encoder (minbpe's loop with tiktoken's whole-piece
// shortcut: BytePairEncoding.referenceEncode, which the tests hold the fast one to too) applied
// to each pre-token. The tokenizer is trained once, at start, on a small built-in corpus of
// English, Chinese, digits and white space.
import FuzzSupport
@testable import Tokenization

let corpus = """
    The quick brown fox jumps over the lazy dog. It's 2024, and we'll read 1,234,567 files!
    Tokenizers split text into pieces; BPE merges the bytes of each piece.    Indented code:
        for i in 0..<10 { print(i) }
    中文的分词没有空格，每个字都可能是一个词。我们今天去公园散步，天气很好。
    Emoji: 😀👍🏽 and accents: café, naïve, Ångström. aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    """

let tokenizers: [Tokenizer] = {
    var counts: [[UInt8]: UInt64] = [:]
    for piece in PreTokenizer(.gpt2).split(corpus) { counts[Array(piece.utf8), default: 0] += 1 }
    var options = BPETrainerOptions()
    options.vocabSize = 600
    options.minFrequency = 1
    let vocabulary = BPETrainer.tokens(merges: BPETrainer.train(counts: counts, options: options))
    return PreTokenizerPattern.allCases.map { pattern in
        do {
            return try Tokenizer(vocabulary: vocabulary,
                                 specialTokens: ["<|endoftext|>": vocabulary.count, "<|im_start|>": vocabulary.count + 1],
                                 pattern: pattern)
        } catch {
            fatalError("cannot build the tokenizer: \(error)")
        }
    }
}()

let ranks = tokenizers[0].ranks

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    for tokenizer in tokenizers {
        let ids = tokenizer.encodeOrdinary(bytes)
        precondition((try? tokenizer.decode(ids)) == bytes, "\(tokenizer.pattern): decode(encodeOrdinary(x)) != x")
        let special = tokenizer.encode(bytes, allowedSpecial: ["<|endoftext|>", "<|im_start|>"])
        precondition((try? tokenizer.decode(special)) == bytes, "\(tokenizer.pattern): decode(encode(x, allowedSpecial:)) != x")
        guard bytes.count <= 1024 else { continue }
        var pieces: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { PreTokenizer(tokenizer.pattern).split($0, into: &pieces) }
        var expected: [Int] = []
        var end = 0
        for r in pieces {
            if r.lowerBound > end { expected += BytePairEncoding.referenceEncode(Array(bytes[end..<r.lowerBound]), ranks: ranks) }
            expected += BytePairEncoding.referenceEncode(Array(bytes[r]), ranks: ranks)
            end = r.upperBound
        }
        if end < bytes.count { expected += BytePairEncoding.referenceEncode(Array(bytes[end...]), ranks: ranks) }
        precondition(ids == expected, "\(tokenizer.pattern): the BPE encoder and the reference disagree")
    }
    return 0
}
