// HTML to text, as ingest does it for an HTML member or a WARC response: the prescan for HTML,
// the declared charset and title, the text decoding, and the visible-text extraction. It takes
// any bytes and throws nothing; the fuzzer looks for crashes, hangs and memory blow-ups.
import DataPrep
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    _ = HTMLText.looksLikeHTML(Array(bytes.prefix(4096)))
    let charset = HTMLText.declaredCharset(bytes)
    _ = HTMLText.title(bytes)
    let text = HTMLText.extract(bytes)
    _ = TextDecoding.decode(text, declaredCharset: charset)
    return 0
}
