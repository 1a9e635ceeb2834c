// llm.c GPT-2 model files (versions 3 and 5), as tune reads a model: Checkpoint.read(llmc:) and
// Checkpoint.read(path:), which tells the format from the content, and CheckpointInfo (tune
// info). The reader takes a path, so the input is written to a scratch file in /dev/shm. Every
// failure must be a CheckpointError; a file that is read must write back to the same bytes.
import FuzzSupport
import GPTModel

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    let path = scratchFile("model.bin", bytes)
    defer { removeScratchFile("model.bin"); removeScratchFile("again.bin") }
    var first: Checkpoint?
    do {
        first = try Checkpoint.read(llmc: path)
    } catch is CheckpointError {
    } catch {
        fatalError("Checkpoint.read(llmc:) threw \(error)")
    }
    do {
        let c = try Checkpoint.read(path: path)
        precondition(first != nil && c.parameters == first!.parameters, "the two readers disagree")
    } catch is CheckpointError {
        precondition(first == nil, "Checkpoint.read(path:) refuses what read(llmc:) reads")
    } catch {
        fatalError("Checkpoint.read(path:) threw \(error)")
    }
    do {
        _ = try CheckpointInfo.inspect(path: path)
    } catch is CheckpointError {
    } catch {
        fatalError("CheckpointInfo.inspect threw \(error)")
    }
    if let first {
        let again = scratchDirectory + "/again.bin"
        do {
            try first.write(llmc: again, type: first.sourceType)
            // Header slots 8...255 are unused (llm.c writes zeros and reads nothing there).
            var expected = bytes
            for i in 32..<1024 { expected[i] = 0 }
            precondition(fileBytes(again) == expected, "a checkpoint read and written again changed")
        } catch {
            fatalError("cannot write back a checkpoint that was read: \(error)")
        }
    }
    return 0
}
