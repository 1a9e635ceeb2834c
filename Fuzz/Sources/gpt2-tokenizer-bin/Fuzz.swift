// llm.c's gpt2_tokenizer.bin (versions 1 and 2) through TokenizerFiles.readLlmc, which takes a
// path: the input is written to a scratch file in /dev/shm. Every failure must be a
// TokenizerFileError naming the file (typed throws). A table that is read must hold what the
// format allows (1...255 bytes a token, the end-of-text among them); when its tokens make a
// tokenizer (every byte a token, no two alike, the end-of-text UTF-8), writeLlmc must write that
// tokenizer back to the same bytes (as version 2, unused header slots zero), which read back to
// the same table.
import FuzzSupport
import Tokenization

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    let path = scratchFile("gpt2_tokenizer.bin", bytes)
    defer { removeScratchFile("gpt2_tokenizer.bin"); removeScratchFile("again.bin") }
    let table: TokenizerFiles.LlmcTokenTable
    do {
        table = try TokenizerFiles.readLlmc(path: path)
    } catch {
        precondition(error.path == path, "the error names \(error.path), not the file read")
        return 0
    }
    precondition(table.endOfText >= 0 && table.endOfText < table.tokens.count, "end-of-text id outside the table")
    precondition(table.tokens.allSatisfy { (1...255).contains($0.count) }, "a token of 0 or more than 255 bytes")

    // The tokenizer the table describes: the end-of-text as a special token, the rest as ranks.
    let eot = table.tokens[table.endOfText]
    let eotText = String(decoding: eot, as: UTF8.self)
    guard Array(eotText.utf8) == eot else { return 0 }
    var ranks: [[UInt8]: Int] = [:]
    for (id, token) in table.tokens.enumerated() where id != table.endOfText {
        guard ranks.updateValue(id, forKey: token) == nil else { return 0 }
    }
    guard let tokenizer = try? Tokenizer(ranks: ranks, specialTokens: [eotText: table.endOfText], pattern: .gpt2) else {
        return 0
    }
    let again = scratchDirectory + "/again.bin"
    do {
        try TokenizerFiles.writeLlmc(tokenizer, to: again, endOfText: table.endOfText)
    } catch {
        fatalError("cannot write back a table that was read: \(error)")
    }
    var expected = [UInt8](repeating: 0, count: 1024)
    for (slot, value) in [20240328, 2, table.tokens.count, table.endOfText].enumerated() {
        for k in 0..<4 { expected[4 * slot + k] = UInt8(truncatingIfNeeded: value >> (8 * k)) }
    }
    expected += bytes[1024...]
    precondition(fileBytes(again) == expected, "a table read and written again changed")
    do {
        let reread = try TokenizerFiles.readLlmc(path: again)
        precondition(reread == table, "a table written and read again changed")
    } catch {
        fatalError("cannot read the table written back: \(error)")
    }
    return 0
}
