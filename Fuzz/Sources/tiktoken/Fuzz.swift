// tiktoken's .tiktoken rank files through TokenizerFiles.parseTiktoken, with the special token
// `TokenizerFiles.load` gives a file of unknown name (<|endoftext|> after the last rank). A file
// that is read must give a working tokenizer (decode(encode(x)) == x), and one Kiln writes back
// must read as the same ranks. Every failure must be a TokenizerFileError (typed throws).
import FuzzSupport
import Tokenization

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    // The pattern only changes how text is split before BPE: one per input, by its length.
    do {
        let pattern = PreTokenizerPattern.allCases[bytes.count % PreTokenizerPattern.allCases.count]
        guard let plain = try? TokenizerFiles.parseTiktoken(bytes, path: "fuzz.tiktoken", pattern: pattern, specialTokens: [:])
        else { return 0 }
        let specials = ["<|endoftext|>": (plain.ranks.values.max() ?? -1) + 1]
        guard let tokenizer = try? TokenizerFiles.parseTiktoken(bytes, path: "fuzz.tiktoken", pattern: pattern,
                                                                specialTokens: specials) else { return 0 }
        let sample = Array("Hello, world! It's 2024: 你好，世界。 \u{1F600}\r\n\t  <|endoftext|> x".utf8)
        for text in [sample, Array(bytes.prefix(512))] {
            precondition((try? tokenizer.decode(tokenizer.encodeOrdinary(text))) == text, "decode(encodeOrdinary(x)) != x")
            let ids = tokenizer.encode(text, allowedSpecial: ["<|endoftext|>"])
            precondition((try? tokenizer.decode(ids)) == text, "decode(encode(x, allowedSpecial: all)) != x")
        }
        let path = scratchFile("fuzz.tiktoken", [])
        defer { removeScratchFile("fuzz.tiktoken") }
        do {
            try TokenizerFiles.writeTiktoken(tokenizer, to: path)
            let again = try TokenizerFiles.readTiktoken(path: path, pattern: pattern, specialTokens: specials)
            precondition(again.fingerprint == tokenizer.fingerprint, ".tiktoken written and read back is another tokenizer")
        } catch {
            fatalError("Kiln cannot write and read back a .tiktoken file it read: \(error)")
        }
    }
    return 0
}
