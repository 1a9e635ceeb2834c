// tokenizer.json (HF tokenizers) through TokenizerFiles.parseHuggingFace. A file that is read
// must give a working tokenizer (decode(encode(x)) == x, on a fixed text and on the input), and
// when Kiln can write it back, reading that file must give the same tokenizer (fingerprint).
// Every failure must be a TokenizerFileError.
import FuzzSupport
import Tokenization

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    let tokenizer: Tokenizer
    do {
        tokenizer = try TokenizerFiles.parseHuggingFace(bytes, path: "tokenizer.json")
    } catch {
        return 0  // typed throws: always a TokenizerFileError
    }
    checkRoundTrip(tokenizer, bytes)
    let path = scratchFile("tokenizer.json", [])
    defer { removeScratchFile("tokenizer.json") }
    guard (try? TokenizerFiles.writeHuggingFace(tokenizer, to: path)) != nil else { return 0 }
    do {
        let again = try TokenizerFiles.readHuggingFace(path: path)
        precondition(again.fingerprint == tokenizer.fingerprint, "tokenizer.json written and read back is another tokenizer")
    } catch {
        fatalError("Kiln cannot read the tokenizer.json it wrote: \(error)")
    }
    return 0
}

/// decode(encode(x)) == x for a fixed text and for `extra`, with and without special tokens.
func checkRoundTrip(_ tokenizer: Tokenizer, _ extra: [UInt8]) {
    let sample = Array("Hello, world! It's 2024: 你好，世界。 \u{1F600}\r\n\t  <|endoftext|> x".utf8)
    for text in [sample, Array(extra.prefix(512))] {
        let ids = tokenizer.encodeOrdinary(text)
        precondition((try? tokenizer.decode(ids)) == text, "decode(encodeOrdinary(x)) != x")
        let withSpecials = tokenizer.encode(text, allowedSpecial: Set(tokenizer.specialTokens.keys))
        precondition((try? tokenizer.decode(withSpecials)) == text, "decode(encode(x, allowedSpecial: all)) != x")
    }
}
