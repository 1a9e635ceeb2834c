import Testing
@testable import Kernels

@Suite struct ParallelTests {
    @Test(arguments: [0, 1, 2, 5, 100])
    func parallelChunksCoverEveryIndexOnce(count: Int) {
        for threads in [1, 2, 3, 8] {
            let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
            defer { seen.deallocate() }
            seen.initialize(repeating: 0)
            Parallel.forEachChunk(count, threads: threads, grain: 2) { _, range in
                for i in range { seen[i] += 1 }
            }
            #expect(seen.prefix(count).allSatisfy { $0 == 1 }, "count \(count) threads \(threads)")
        }
    }
}
