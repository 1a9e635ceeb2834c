// A parallel loop over rows for the kernels that are not matrix products (BLAS threads its own).
//
// Work is cut into at most `threads` contiguous chunks, so each thread walks memory in order and
// the per-chunk cost of DispatchQueue.concurrentPerform is paid `threads` times per call, not per
// row. The chunk index lets a kernel give each chunk its own slice of a scratch buffer.

import Dispatch

public enum Parallel {
    /// Calls `body(chunk, range)` for consecutive ranges that cover `0..<count`, concurrently when
    /// `threads > 1`. Ranges hold at least `grain` items (except the last), so that small loops do
    /// not pay for threads they cannot use. Chunk indices are `0..<chunks(count, threads:, grain:)`.
    public static func forEachChunk(_ count: Int, threads: Int, grain: Int = 1,
                                    _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        precondition(threads >= 1 && grain >= 1, "threads and grain must be positive")
        guard count > 0 else { return }
        let n = chunks(count, threads: threads, grain: grain)
        if n == 1 {
            body(0, 0..<count)
            return
        }
        let per = (count + n - 1) / n
        // concurrentPerform wants a Sendable closure; the kernels' closures capture raw pointers to
        // disjoint rows, which is safe but cannot be proven so. The unchecked box is the one place
        // where that promise is made.
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: n) { i in
                let lo = i * per
                let hi = Swift.min(count, lo + per)
                if lo < hi { box.value(i, lo..<hi) }
            }
        }
    }

    /// How many chunks `forEachChunk` uses: at most `threads`, each of at least `grain` items.
    public static func chunks(_ count: Int, threads: Int, grain: Int = 1) -> Int {
        Swift.max(1, Swift.min(threads, (count + grain - 1) / grain))
    }
}

/// Carries a value across the concurrentPerform boundary; see `Parallel.forEachChunk`.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
