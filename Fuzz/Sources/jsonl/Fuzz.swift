// JSONL records, as ingest reads a JSONL input and every later stage reads a document shard:
// each line (invalid UTF-8 made U+FFFD first, as ingest does) through JSONParser and
// Document.parse. A line that parses must come back the same after JSONWriter writes it; a line
// that does not must fail with JSONParseError at an offset inside the line.
import DataPrep
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    for raw in bytes.split(separator: 0x0A, omittingEmptySubsequences: true) {
        var line = Array(raw)
        if TextDecoding.validUTF8Prefix(line[...]) != line.count {
            line = Array(TextDecoding.lossyUTF8(line[...]).0.utf8)
        }
        let value: JSONValue
        do {
            value = try JSONParser.parse(line)
        } catch let e as JSONParseError {
            precondition(e.offset >= 0 && e.offset <= line.count, "error offset \(e.offset) outside a \(line.count)-byte line")
            continue
        } catch {
            fatalError("not a JSONParseError: \(error)")
        }
        var w = JSONWriter()
        w.write(value)
        guard let again = try? JSONParser.parse(w.bytes) else {
            fatalError("JSONWriter wrote what JSONParser refuses: \(String(decoding: w.bytes, as: UTF8.self))")
        }
        precondition(again == value, "a record changed when written and read again")
        do {
            _ = try Document.parse(line)
        } catch is Document.RecordError {
        } catch {
            fatalError("Document.parse threw \(error)")
        }
    }
    return 0
}
