// GPT-2's vocab.json + merges.txt through TokenizerFiles.parseVocabMerges: the input is the two
// files cut at its first NUL byte. A pair that is read must give a working tokenizer
// (decode(encode(x)) == x), and when Kiln can write it back as vocab.json + merges.txt, reading
// those must give the same tokenizer. Every failure must be a TokenizerFileError (typed throws).
import FuzzSupport
import Tokenization

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let (vocab, merges) = split(input(data, size))
    guard let tokenizer = try? TokenizerFiles.parseVocabMerges(vocab: vocab, vocabPath: "vocab.json", merges: merges,
                                                               mergesPath: "merges.txt") else { return 0 }
    let sample = Array("Hello, world! It's 2024: 你好，世界。 \u{1F600}\r\n\t  <|endoftext|> x".utf8)
    for text in [sample, Array(merges.prefix(512))] {
        precondition((try? tokenizer.decode(tokenizer.encodeOrdinary(text))) == text, "decode(encodeOrdinary(x)) != x")
        let ids = tokenizer.encode(text, allowedSpecial: Set(tokenizer.specialTokens.keys))
        precondition((try? tokenizer.decode(ids)) == text, "decode(encode(x, allowedSpecial: all)) != x")
    }
    let vocabPath = scratchFile("vocab.json", []), mergesPath = scratchFile("merges.txt", [])
    defer { removeScratchFile("vocab.json"); removeScratchFile("merges.txt") }
    guard (try? TokenizerFiles.writeVocabMerges(tokenizer, vocab: vocabPath, merges: mergesPath)) != nil else { return 0 }
    do {
        let again = try TokenizerFiles.readVocabMerges(vocab: vocabPath, merges: mergesPath)
        precondition(again.fingerprint == tokenizer.fingerprint, "vocab.json + merges.txt written and read back are another tokenizer")
    } catch {
        fatalError("Kiln cannot read the vocab.json + merges.txt it wrote: \(error)")
    }
    return 0
}
