// The pre-tokenizers' hand-made scanner against the reference (Swift Regex on tiktoken's
// pattern), for gpt2, cl100k and o200k: on any bytes the scanner's pieces are non-empty,
// contiguous and cover the input; on valid UTF-8 they are exactly the reference's pieces.
import FuzzSupport
import Tokenization

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    for pattern in PreTokenizerPattern.allCases {
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { PreTokenizer(pattern).split($0, into: &ranges) }
        var end = 0
        for r in ranges {
            precondition(r.lowerBound == end && !r.isEmpty, "\(pattern): pieces are not contiguous and non-empty")
            end = r.upperBound
        }
        precondition(end == bytes.count, "\(pattern): the pieces cover \(end) of \(bytes.count) bytes")
        guard let text = String(validating: bytes, as: UTF8.self) else { continue }
        let fast = PreTokenizer(pattern).split(text).map { Array($0.utf8) }
        let reference = PreTokenizer.referenceSplit(text, pattern).map { Array($0.utf8) }
        precondition(fast == reference, "\(pattern): the scanner and the reference regex split differently")
    }
    return 0
}
